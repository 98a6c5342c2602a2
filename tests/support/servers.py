"""Real servers for tests: the reference server as a child process, and TLS material from trustme.

``serve`` always runs in its own process on a real socket. The admin verbs (``init``, ``license create``,
``release publish``…) run the real CLI's ``main`` in the test process (``admin_cli``): the same code and
the same files as ``python -m crystal_server``, without a fresh interpreter importing cryptography for
each call (~0.5 s each; ~25 ms in process). Tests may import the server; only the app must not.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from crystal_manager.cli.demo_server import DemoServerError, RunningServer, start_server

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

    running: RunningServer | ForkedServer

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
def run_reference_server(data_dir: Path, *, port: int | None = None, tls: tuple[Path, Path] | None = None,
                         env: Mapping[str, str] | None = None,
                         serve_args: Sequence[str] = ()) -> Iterator[ReferenceServer]:
    """Serve ``data_dir`` in its own process for the duration of the block (a fresh port unless given).

    Clients use ``ReferenceServer.url``; the profile's own URL is only right when ``port`` matches it. The
    process is forked from a process that has the server's modules loaded (tests/support/server_zygote.py;
    ``python -m crystal_server serve`` itself with $CRYSTAL_TEST_SERVER_FORK=0 or where Linux pidfds are
    missing): the same ``serve`` code on a real socket, ~0.3 s of CPU less per server. ``env``: variables
    for the server process only (``MovableClock.env()`` in tests/support/faketime.py); such a server is
    executed, not forked, since a preload library (libfaketime) takes effect only when a program starts.
    ``serve_args``: more ``serve`` options (``--trusted-proxy ADDR``…), forked or executed alike.
    """
    running: RunningServer | ForkedServer
    if env is not None:
        with environ(env):  # start_server hands os.environ to its child
            running = _exec_server(data_dir, port=port or 0, tls=tls, extra=serve_args)
    elif os.environ.get("CRYSTAL_TEST_SERVER_FORK", "1") != "0" and hasattr(os, "pidfd_open"):
        running = _fork_server(data_dir, port=port or 0, tls=tls, extra=serve_args)
    else:
        running = _exec_server(data_dir, port=port or 0, tls=tls, extra=serve_args)
    try:
        yield ReferenceServer(running)
    finally:
        running.stop()


def _exec_server(data_dir: Path, *, port: int, tls: tuple[Path, Path] | None, extra: Sequence[str]) -> RunningServer:
    """``python -m crystal_server serve`` executed (``demo_server.start_server``), with ``extra`` options."""
    return start_server(data_dir, port=port, tls=tls, extra=extra)


def _tls_args(tls: tuple[Path, Path] | None) -> list[str]:
    return [] if tls is None else ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]


@contextmanager
def environ(extra: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``extra`` for the block (``None``: unset), then as it was."""
    saved = {name: os.environ.get(name) for name in extra}
    for name, value in extra.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class ForkedServer:
    """A ``serve`` process forked by the zygote (not our child: watched and signalled through a pidfd)."""

    data_dir: Path
    url: str
    pid: int
    pidfd: int

    @property
    def profile_file(self) -> Path:
        """The development profile clients use."""
        return self.data_dir / "profile.json"

    def _exited(self, timeout: float) -> bool:
        return bool(select.select([self.pidfd], [], [], timeout)[0])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and wait until it is gone."""
        if self.pidfd < 0:
            return
        try:
            if not self._exited(0):
                signal.pidfd_send_signal(self.pidfd, signal.SIGTERM)
                if not self._exited(10):
                    signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                    self._exited(10)
        except ProcessLookupError:
            pass
        finally:
            os.close(self.pidfd)
            self.pidfd = -1


class _Zygote:
    """This process's zygote (one per test process: each xdist worker has its own)."""

    process: subprocess.Popen[bytes] | None = None
    owner = 0

    @classmethod
    def close(cls) -> None:
        """End the zygote (its standard input closes; the servers it forked were stopped by their tests)."""
        if cls.process is not None and cls.owner == os.getpid():
            assert cls.process.stdin is not None and cls.process.stdout is not None
            cls.process.stdin.close()
            cls.process.wait(10)
            cls.process.stdout.close()
            cls.process = None

    @classmethod
    def spawn(cls, request: dict[str, object]) -> tuple[int, str]:
        if cls.process is None or cls.owner != os.getpid() or cls.process.poll() is not None:
            cls.process = subprocess.Popen([sys.executable, "-m", "tests.support.server_zygote"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_ROOT,
                                           env={**os.environ, "PYTHONPATH": _pythonpath()})
            cls.owner = os.getpid()
            atexit.register(cls.close)
        assert cls.process.stdin is not None and cls.process.stdout is not None
        cls.process.stdin.write(json.dumps(request).encode() + b"\n")
        cls.process.stdin.flush()
        answer = json.loads(cls.process.stdout.readline() or b"{}")
        if "pid" not in answer:
            raise DemoServerError("the test server zygote stopped")
        return int(answer["pid"]), str(answer["line"])


_ROOT = Path(__file__).resolve().parents[2]


def _pythonpath() -> str:
    parts = [str(_ROOT), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return os.pathsep.join(parts)


def _fork_server(data_dir: Path, *, port: int, tls: tuple[Path, Path] | None,
                 extra: Sequence[str] = ()) -> ForkedServer:
    """Like ``demo_server.start_server``: wait for ``listening on URL``, or fail with the log's last lines."""
    args = ["serve", str(data_dir), "--port", str(port), *_tls_args(tls), *extra]
    log_path = data_dir / "server.log"
    pid, line = _Zygote.spawn({"args": args, "env": dict(os.environ), "cwd": os.getcwd(), "log": str(log_path)})
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        pidfd = -1
    server = ForkedServer(data_dir=data_dir, url=line.removeprefix("listening on "), pid=pid, pidfd=pidfd)
    if not line.startswith("listening on ") or pidfd < 0:
        server.stop()
        err = log_path.read_text(errors="replace").strip().splitlines()[-3:] if log_path.exists() else []
        raise DemoServerError(f"server did not start: {' '.join(err)[-500:]}")
    return server
