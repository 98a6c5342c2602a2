"""A child process for the updates crash suite: runs one install, rollback or download and kills itself
(SIGKILL) at the Nth call of one OS-level operation.

Each call can be killed before it runs or right after it returned (``"when": "after"``).
Fault injection at the OS boundary only: os.replace / os.rename / os.fsync / os.symlink, the writing of
an archive member (tarfile), the start of a program (subprocess.Popen, the health check), shutil.rmtree,
and bytes read from a socket. The code under test runs unmodified. Without a kill point the child counts
the calls of each operation and writes the counts (JSON) to the ``counts`` file of its spec.

    python -m tests.support.update_crash_child '{"action": "install", "root": ..., "archive": ...,
                                                 "version": "1.1.0", "op": "replace", "n": 3, "counts": ...}'
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

COUNTS: dict[str, int] = {}
SPEC: dict[str, Any] = {}


def _hit(name: str, when: str = "before") -> None:
    if when == "before":
        COUNTS[name] = COUNTS.get(name, 0) + 1
    if SPEC.get("op") == name and COUNTS[name] == SPEC.get("n") and SPEC.get("when", "before") == when:
        os.kill(os.getpid(), signal.SIGKILL)


def _wrap(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _hit(name)
        result = original(*args, **kwargs)
        _hit(name, "after")  # the call done, the next one not started
        return result
    return wrapper


class _Popen(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _hit("popen")
        super().__init__(*args, **kwargs)
        _hit("popen", "after")  # the health check is running when we die


def _install_hooks() -> None:
    os.replace = _wrap("replace", os.replace)
    os.rename = _wrap("rename", os.rename)
    os.fsync = _wrap("fsync", os.fsync)
    os.symlink = _wrap("symlink", os.symlink)
    shutil.rmtree = _wrap("rmtree", shutil.rmtree)  # type: ignore[assignment]
    tarfile.TarFile.makefile = _wrap("member", tarfile.TarFile.makefile)  # type: ignore[method-assign]
    subprocess.Popen = _Popen  # type: ignore[misc]


def _install_recv_limit(limit: int, report: Path) -> None:
    """Count bytes read from sockets; past ``limit``, write the count to ``report`` and die."""
    received = 0
    original = socket.socket.recv

    def recv(self: socket.socket, size: int, *args: Any) -> bytes:
        nonlocal received
        data = original(self, size, *args)
        received += len(data)
        if received >= limit:
            report.write_text(str(received))
            os.kill(os.getpid(), signal.SIGKILL)
        return data

    socket.socket.recv = recv  # type: ignore[method-assign,assignment]


def main() -> int:
    SPEC.update(json.loads(sys.argv[1]))
    from crystal_manager.updates import install

    action = SPEC["action"]
    outcome = "ok"
    if action == "download":
        from crystal_manager.net.gateway import Gateway
        from crystal_manager.privacy.ledger import Ledger
        from crystal_manager.updates.download import SignedFile, download_target

        if SPEC.get("kill_after_bytes"):
            _install_recv_limit(int(SPEC["kill_after_bytes"]), Path(SPEC["report"]))
        else:
            _install_hooks()
        signed = SignedFile(**SPEC["signed"])
        with Gateway(base_url=SPEC["url"], ledger=Ledger(Path(SPEC["ledger"]))) as gateway:
            download_target(gateway, signed, Path(SPEC["folder"]), version=SPEC["version"])
        if SPEC.get("counts"):
            Path(SPEC["counts"]).write_text(json.dumps({"outcome": outcome, "counts": COUNTS}))
        return 0
    _install_hooks()
    root = Path(SPEC["root"])
    try:
        if action == "install":
            from tests.support.product_archives import release_info

            install.install_archive(root, Path(SPEC["archive"]), expect=release_info(SPEC["version"]))
        elif action == "rollback":
            install.rollback(root)
        else:
            install.recover(root)
    except Exception as exc:  # a refused install is an outcome too (e.g. a failed health check)
        outcome = type(exc).__name__
    if SPEC.get("counts"):
        Path(SPEC["counts"]).write_text(json.dumps({"outcome": outcome, "counts": COUNTS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
