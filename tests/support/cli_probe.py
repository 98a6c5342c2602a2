"""``python -m tests.support.cli_probe``: what a process was started with, as JSON (tests/cli/test_cli_zygote.py).

Run through the CLI zygote and as a real process with the same request, the two reports must agree.
Arguments: ``report`` (print the report), ``exit N``, ``raise``, ``interrupt``, ``signal N``, ``sleep``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time


def report() -> dict[str, object]:
    """Environment, folder, argv, path, streams, signals, descriptors and keyring backend of this process."""
    import keyring

    stdin = sys.stdin.read()
    return {
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "orig_argv": sys.orig_argv,
        "path0": sys.path[:2],
        "dont_write_bytecode": sys.dont_write_bytecode,
        "stdin": stdin,
        "isatty": [os.isatty(fd) for fd in (0, 1, 2)],
        "stream_encoding": [sys.stdin.encoding, sys.stdout.encoding, sys.stderr.encoding],
        "line_buffering": [sys.stdout.line_buffering, sys.stderr.line_buffering],
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))[:3],
        "fd_count": len(os.listdir("/proc/self/fd")),
        "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
        "sigpipe": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN,
        "threads": threading.active_count(),
        "main_file": getattr(sys.modules["__main__"], "__file__", None),
        "keyring": type(keyring.get_keyring()).__module__,
    }


def main(args: list[str]) -> int:
    """Act out one ending (or print the report)."""
    what = args[0] if args else "report"
    if what == "report":
        print(json.dumps(report()))
        print("to stderr", file=sys.stderr)
        return 0
    if what == "exit":
        return int(args[1])
    if what == "raise":
        raise RuntimeError("uncaught")
    if what == "interrupt":
        raise KeyboardInterrupt
    if what == "signal":
        os.kill(os.getpid(), int(args[1]))
        time.sleep(5)
        return 0
    print(os.getpid(), flush=True)  # "sleep": until the caller's timeout kills it
    time.sleep(120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
