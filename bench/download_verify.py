"""Download + verify through the gateway vs curl + openssl, same file, same server, same run."""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crystal_manager.cli.demo_server import free_port, server_cli, start_server
from crystal_manager.net.gateway import Gateway
from crystal_manager.net.request import OutboundRequest
from crystal_manager.privacy.ledger import Ledger


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
            digest.update(block)
    return digest.hexdigest()


def ours(url: str, out: Path, size: int, ledger: Ledger) -> tuple[float, str]:
    start = time.perf_counter()
    digest = hashlib.sha256()
    with Gateway(base_url=url, ledger=ledger) as gateway, open(out, "wb") as handle:
        def write(chunk: bytes) -> None:
            digest.update(chunk)
            handle.write(chunk)
        gateway.download(OutboundRequest(kind="update_target", path_params={"name": "blob.bin"}), write,
                         max_bytes=size)
    return time.perf_counter() - start, digest.hexdigest()


def baseline(url: str, out: Path) -> tuple[float, str]:
    start = time.perf_counter()
    subprocess.run(["curl", "-sS", "-o", str(out), f"{url}/v1/updates/targets/blob.bin"], check=True)
    text = subprocess.run(["openssl", "dgst", "-sha256", "-r", str(out)], check=True, capture_output=True,
                          text=True).stdout
    return time.perf_counter() - start, text.split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        server_cli("init", str(tmp / "server"), "--url", f"http://127.0.0.1:{port}")
        expected = make_file(tmp / "server" / "repository" / "targets" / "blob.bin", size)
        server = start_server(tmp / "server", port=port)
        ledger = Ledger(tmp / "ledger.jsonl")
        try:
            base_times, our_times = [], []
            for _ in range(args.runs):
                seconds, digest = baseline(server.url, tmp / "curl.bin")
                assert digest == expected
                base_times.append(seconds)
                seconds, digest = ours(server.url, tmp / "ours.bin", size, ledger)
                assert digest == expected
                our_times.append(seconds)
        finally:
            server.stop()
    base, mine = statistics.median(base_times), statistics.median(our_times)
    print(f"{args.size_mib} MiB over loopback, median of {args.runs} runs")
    print(f"  curl -o + openssl dgst: {base:.3f} s ({args.size_mib / base:.0f} MiB/s)")
    print(f"  gateway download+sha256: {mine:.3f} s ({args.size_mib / mine:.0f} MiB/s)")
    print(f"  ratio ours/baseline: {mine / base:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
