"""Real servers for tests: the reference server as a child process, and TLS material from trustme.

``serve`` always runs in its own process on a real socket. The admin verbs (``init``, ``license create``,
``release publish``…) run the real CLI's ``main`` in the test process (``admin_cli``): the same code and
the same files as ``python -m crystal_server``, without a fresh interpreter importing cryptography for
each call (~0.5 s each; ~25 ms in process). Tests may import the server; only the app must not.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from crystal_manager.cli.demo_server import RunningServer, start_server

#: Verbs that must run as their own process (they serve until stopped).
_CHILD_ONLY = frozenset({"serve"})


def admin_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``crystal-server ARGS``: exit code, standard output and error as from the child process.

    Runs in this process unless ``env`` is given (extra variables for that one call: a child process then,
    so that nothing leaks into the test process's environment). Usage errors exit 2 as argparse does; an
    unexpected exception is a traceback on standard error and exit 1, as the interpreter would give.
    """
    argv = [sys.executable, "-m", "crystal_server", *args]
    if env is not None or (args and args[0] in _CHILD_ONLY):
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, **(env or {})})
    from crystal_server.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as stop:  # argparse: usage errors and --help
            code = _exit_code(stop)
        except Exception:  # what the interpreter does with an uncaught exception
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _exit_code(stop: SystemExit) -> int:
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=sys.stderr)
    return 1


@dataclass
class ReferenceServer:
    """A running reference server and where its files are."""

    running: RunningServer

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def data_dir(self) -> Path:
        return self.running.data_dir

    @property
    def profile_file(self) -> Path:
        return self.running.profile_file

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``crystal-server ARGS`` (no check of the exit code; see ``admin_cli``)."""
        return admin_cli(*args)


def init_server_dir(path: Path, *, url: str | None = None, tls_ca: Path | None = None) -> Path:
    """Run ``crystal-server init`` for real (fresh keys every time; see ``admin_cli``)."""
    args = ["init", str(path)]
    if url:
        args += ["--url", url]
    if tls_ca:
        args += ["--tls-ca", str(tls_ca)]
    proc = admin_cli(*args)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return path


@contextmanager
def run_reference_server(data_dir: Path, *, port: int | None = None,
                         tls: tuple[Path, Path] | None = None) -> Iterator[ReferenceServer]:
    """Serve ``data_dir`` in a child process for the duration of the block (a fresh port unless given).

    Clients use ``ReferenceServer.url``; the profile's own URL is only right when ``port`` matches it.
    """
    running = start_server(data_dir, port=port or 0, tls=tls)
    try:
        yield ReferenceServer(running)
    finally:
        running.stop()
