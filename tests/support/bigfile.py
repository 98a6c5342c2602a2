"""A large static file on the reference server and a download-and-hash operation over the gateway
(the responsiveness test and the stall benchmark share them)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from crystal_manager.net.request import OutboundRequest
from crystal_manager.services.context import AppContext

MIB = 1024 * 1024


def make_big_target(server_dir: Path, size: int, name: str = "big.bin") -> str:
    """A sparse file of ``size`` zero bytes in the server's targets folder; returns its SHA-256."""
    path = server_dir / "repository" / "targets" / name
    with open(path, "wb") as handle:
        handle.truncate(size)
    digest = hashlib.sha256()
    block = bytes(MIB)
    for _ in range(size // MIB):
        digest.update(block)
    digest.update(bytes(size % MIB))
    return digest.hexdigest()


def download_and_hash(ctx: AppContext, name: str, size: int,
                      report: Callable[[int], None] | None = None) -> str:
    """Stream ``name`` through the gateway, hashing as it arrives; returns the SHA-256 (worker thread)."""
    digest = hashlib.sha256()
    last = 0

    def progress(received: int) -> None:
        nonlocal last
        if report is not None and received - last >= 8 * MIB:
            last = received
            report(received)

    result = ctx.gateway.download(OutboundRequest(kind="update_target", path_params={"name": name}),
                                  digest.update, max_bytes=size, progress=progress)
    if result.status != 200 or result.received != size:
        raise RuntimeError(f"download ended with HTTP {result.status} after {result.received} bytes")
    return digest.hexdigest()
