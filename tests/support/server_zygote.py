"""A process that has imported the reference server once and forks a real ``serve`` process per request.

Starting ``python -m crystal_server serve`` costs ~0.3 s of CPU (the interpreter, uvicorn, Starlette,
cryptography, python-tuf); the suite starts ~300 servers. Forked from this process a server is up in a few
milliseconds, and it is still its own process on a real socket running ``crystal_server.cli.main(["serve",
...])`` with the environment and folder of the test that asked (tests/support/servers.py).

Protocol on standard input/output, one JSON object per line:
``{"args": [...], "env": {...}, "cwd": "...", "log": "..."}`` -> ``{"pid": N, "line": "listening on URL"}``
(``line`` is empty if the server exited or said nothing within 20 s; its log says why).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import sys
import time
import traceback

READY_TIMEOUT = 20.0


def _preload() -> None:
    """Everything ``serve`` imports, so that forked servers start with it loaded."""
    import uvicorn
    import uvicorn.lifespan.on
    import uvicorn.loops.asyncio
    import uvicorn.loops.auto
    import uvicorn.protocols.http.h11_impl
    import uvicorn.protocols.websockets.auto  # noqa: F401 - uvicorn.Config loads it

    # What uvicorn picks when the server extra's httptools and uvloop are installed (no loop is made yet).
    for name in ("uvicorn.protocols.http.httptools_impl", "uvicorn.loops.uvloop", "uvloop"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)

    # With what ``serve`` imports on the way (the verbs' parsers, the licensing service and its helpers).
    from crystal_server import (  # noqa: F401
        access,
        app,
        batch_cli,
        cli,
        deletion,
        group_commit,
        http_head,
        key_cli,
        license_cli,
        licensing,
        release_cli,
        throttle,
        tuf_repo,
    )

    # What forked servers imported after the fork (a sys.modules diff over tests/cli and tests/server): every
    # server _strptime (its cache follows the time zone: see _child), and a server that sends a file or runs
    # a blocking call in a thread anyio's asyncio backend (starlette's FileResponse and run_in_threadpool ask
    # anyio for the running loop's backend, which it imports on first use: ~30 ms of CPU). Neither reads the
    # environment or the folder when imported.
    for name in ("_strptime", "anyio._backends._asyncio", "anyio._core._fileio"):
        importlib.import_module(name)


def _child(request: dict[str, object], write_end: int) -> None:
    """In the forked process: the test's environment, folder and log; then serve until stopped."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(str(request["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(null, 0)
        os.dup2(write_end, 1)
        os.dup2(log, 2)
        for fd in (null, log, write_end):
            os.close(fd)
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        # time.tzname/timezone from this TZ, as a fresh interpreter's time module sets them when it starts
        # (the zygote's TZ may be another; C's localtime reads TZ itself).
        time.tzset()
        os.chdir(str(request["cwd"]))
        from crystal_server.cli import main

        args = request["args"]
        assert isinstance(args, list)
        code = main([str(arg) for arg in args])
    except BaseException:  # what the interpreter would print for an uncaught exception
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _first_line(read_end: int) -> str:
    """The child's first line on its standard output (empty if it exits or stays silent)."""
    data = b""
    while b"\n" not in data:
        ready, _, _ = select.select([read_end], [], [], READY_TIMEOUT)
        if not ready:
            break
        chunk = os.read(read_end, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


def main() -> int:
    """Serve fork requests until standard input closes (the test process is gone)."""
    _preload()
    # What is loaded here stays out of the servers' collections, so that they don't copy its pages (CPython's
    # advice before a fork: gc.freeze's documentation).
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # servers are reaped by the kernel; the tests watch a pidfd
    for raw in sys.stdin.buffer:
        request = json.loads(raw)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _child(request, write_end)
        os.close(write_end)
        line = _first_line(read_end)
        os.close(read_end)
        sys.stdout.write(json.dumps({"pid": pid, "line": line}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
