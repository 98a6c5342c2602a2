"""``run_cli``: the app's CLI as its own process, like ``subprocess.run([python, "-m", "crystal_manager", ...])``.

The process is forked from a zygote that has the CLI's modules loaded (tests/support/cli_zygote.py): the
same entry point with the test's arguments, environment, folder and real pipes, ~0.3 s of CPU less per run.
A real ``python -m crystal_manager`` is started instead when the zygote cannot give the same process:
$CRYSTAL_TEST_CLI_FORK=0, no Linux pidfds or descriptor passing, or an environment that differs from the
zygote's in what an interpreter reads when it starts (LD_PRELOAD/FAKETIME for libfaketime, PYTHON*,
locale, TZ; see ``cli_zygote.CAPTURED_*``). A run on a clock moved by ``faketime.offset_env(SPEC)`` (a
relative offset) is forked from a second zygote that has libfaketime preloaded (``_ClockZygote``).

``machine_id=FILE`` gives the child FILE as /etc/machine-id in a user and mount namespace of its own: the
forked child makes the system calls ``unshare -rm sh -c 'mount --bind FILE /etc/machine-id'`` makes
(``cli_zygote.own_machine_id``), or, where the zygote cannot be used or that fails here, that very command
runs the real ``python -m`` (``namespaced_argv``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import locale
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from tests.support import cli_zygote, faketime

_ROOT = Path(__file__).resolve().parents[2]
#: Time to collect what a killed child wrote (subprocess.run waits without a limit).
_AFTER_KILL = 10.0


#: Run by ``sh`` inside the new namespaces: "$0" is the file to show as the machine ID, then the command.
_MOUNT = 'mount --bind "$0" /etc/machine-id && exec "$@"'


def cli_argv(args: Sequence[str], module: str = "crystal_manager") -> list[str]:
    """The command line a real run uses (and ``CompletedProcess.args``)."""
    return [sys.executable, "-m", module, *args]


def namespaced_argv(machine_id: str | Path, argv: Sequence[str]) -> list[str]:
    """``argv`` executed with the file ``machine_id`` as /etc/machine-id (``unshare -rm``, ``mount --bind``)."""
    return ["unshare", "-rm", "sh", "-c", _MOUNT, os.fspath(machine_id), *argv]


def run_cli(args: Sequence[str], *, env: Mapping[str, str] | None, input: str | None = None,
            timeout: float = 60, cwd: str | Path | None = None,
            machine_id: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """``crystal-manager ARGS`` in its own process: exit status, standard output and error as text.

    ``subprocess.run(cli_argv(args), env=env, input=input, capture_output=True, text=True, timeout=timeout,
    cwd=cwd)``: ``env=None`` inherits this process's environment, ``input=None`` this process's standard
    input; a child killed by signal N gives ``-N``; on timeout the child is killed and
    ``subprocess.TimeoutExpired`` carries what it wrote. With ``machine_id``, as
    ``subprocess.run(namespaced_argv(machine_id, cli_argv(args)), ...)``: that file is its /etc/machine-id.
    """
    return run_module("crystal_manager", args, env=env, input=input, timeout=timeout, cwd=cwd,
                      machine_id=machine_id)


def run_module(module: str, args: Sequence[str], *, env: Mapping[str, str] | None, input: str | None = None,
               timeout: float = 60, cwd: str | Path | None = None,
               machine_id: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` as ``run_cli`` runs it (the runner's own tests, and the updates crash suite's
    child, which patches the OS calls it counts in its own memory)."""
    full_env = dict(os.environ if env is None else env)
    argv = cli_argv(args, module)
    zygote = _Zygote if _Zygote.usable(full_env) else _ClockZygote if _ClockZygote.usable(full_env) else None
    if zygote is None or (machine_id is not None and not forked_namespaces_work()):
        if machine_id is not None:
            argv, full_env = _clock_inside(argv, full_env)
            argv = namespaced_argv(machine_id, argv)
        return subprocess.run(argv, env=full_env, input=input, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, check=False)
    where = os.fspath(cwd) if cwd is not None else os.getcwd()
    if machine_id is not None:
        full_env["PWD"] = _sh_pwd(full_env, where)
    return _forked(module, list(args), full_env, input, timeout, where,
                   None if machine_id is None else os.path.join(where, machine_id),  # sh's folder is ``cwd``
                   zygote)


def _clock_inside(argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """For ``unshare -rm sh -c …``: libfaketime's variables given to the program alone (``env VAR=… argv``), not
    to the wrappers (tests/support/faketime.py ``offset_command`` says why)."""
    if "FAKETIME" not in env:
        return argv, env
    clock = {k: v for k, v in env.items() if k.startswith("FAKETIME") or k == "LD_PRELOAD"}
    rest = {k: v for k, v in env.items() if k not in clock}
    return ["env", *(f"{k}={v}" for k, v in clock.items()), *argv], rest


def _sh_pwd(env: Mapping[str, str], cwd: str) -> str:
    """``PWD`` as the ``sh`` of ``namespaced_argv`` exports it to the program: the given one if it is an absolute
    name of the folder, else the folder's real name (dash's ``getpwd``)."""
    given = env.get("PWD", "")
    with contextlib.suppress(OSError):
        if given.startswith("/") and os.path.samestat(os.stat(given), os.stat(cwd)):
            return given
    return os.path.realpath(cwd)


@functools.cache
def forked_namespaces_work() -> bool:
    """Whether a forked child here gets the machine ID it is given (``cli_zygote.own_machine_id``), uid 0."""
    if not _Zygote.usable(os.environ) or not Path("/etc/machine-id").exists():
        return False
    with tempfile.TemporaryDirectory(prefix="cli-run-") as folder:
        own = Path(folder, "own.machine-id")
        own.write_text(f"{os.getpid():032x}\n", encoding="ascii")
        Path(folder, "machine_id_probe.py").write_text(
            "import os; print(open('/etc/machine-id').read().strip(), os.getuid(), os.getgid())")
        try:
            seen = _forked("machine_id_probe", [], dict(os.environ), "", 30, folder, str(own))
        except (OSError, RuntimeError, subprocess.TimeoutExpired):
            return False
    return seen.returncode == 0 and seen.stdout == f"{os.getpid():032x} 0 0\n"


class _Zygote:
    """This process's CLI zygote (one per test process: each xdist worker has its own)."""

    process: subprocess.Popen[bytes] | None = None
    control: socket.socket | None = None
    env: ClassVar[dict[str, str]] = {}
    owner = 0
    lock = threading.Lock()

    @staticmethod
    def can_fork() -> bool:
        """Whether children may be forked here at all."""
        if os.environ.get("CRYSTAL_TEST_CLI_FORK", "1") == "0" or not sys.platform.startswith("linux"):
            return False
        return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")

    @staticmethod
    def start_env() -> dict[str, str]:
        """The environment the zygote is started with."""
        return dict(os.environ)

    @classmethod
    def usable(cls, env: Mapping[str, str]) -> bool:
        """Whether a forked child can be the process ``env`` asks for (else a real one is started)."""
        if not cls.can_fork():
            return False
        if any(k.startswith(("LD_", "FAKETIME", "DYLD_")) for k in env):
            return False  # libfaketime and other preloads take effect only when a program is executed
        # The zygote is started from (and restarted to follow) this process's environment: a run may differ
        # from it in anything but what an interpreter reads at start-up.
        if cli_zygote.captured(env) != cli_zygote.captured(os.environ):
            return False
        allowed = {str(_ROOT), *(os.path.abspath(p) for p in cli_zygote.python_path(os.environ))}
        return all(os.path.abspath(p) in allowed for p in cli_zygote.python_path(env))

    @classmethod
    def running(cls) -> bool:
        return cls.process is not None and cls.owner == os.getpid() and cls.process.poll() is None

    @classmethod
    def connection(cls) -> socket.socket:
        """The control socket of a running zygote (started on first use)."""
        with cls.lock:
            return cls._connection()

    @classmethod
    def _stale(cls) -> bool:
        """Whether this process's environment has changed in what the zygote took over when it started."""
        return (cli_zygote.captured(cls.env) != cli_zygote.captured(cls.start_env())
                or cli_zygote.python_path(cls.env) != cli_zygote.python_path(os.environ))

    @classmethod
    def _connection(cls) -> socket.socket:
        if cls.running() and cls._stale():
            cls.close()
        if not cls.running() or cls.control is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            cls.env = cls.start_env()
            code = "__import__('tests.support.cli_zygote', fromlist=['main']).main()"
            cls.process = subprocess.Popen([sys.executable, "-c", code, str(theirs.fileno())],
                                           pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, cwd=_ROOT, env=cls.env)
            theirs.close()
            cls.control = ours
            if cls.owner != os.getpid():
                atexit.register(cls.close)
            cls.owner = os.getpid()
        return cls.control

    @classmethod
    def close(cls) -> None:
        """End the zygote (its control socket closes; children still running are killed)."""
        if cls.process is not None and cls.owner == os.getpid():
            if cls.control is not None:
                cls.control.close()
            cls.process.wait(10)
        cls.process = cls.control = None


class _ClockZygote(_Zygote):
    """The zygote of runs on a clock moved by libfaketime (``faketime.offset_env(SPEC)``: ``+10m``, ``-1d``).

    libfaketime takes effect only in an executed program, and reads ``FAKETIME`` once when it starts: this
    zygote is executed with the library preloaded, at offset ``+0`` and ``FAKETIME_NO_CACHE=1``, which makes
    the library read ``FAKETIME`` from the environment at every call for the time. A forked child takes the
    run's environment (``FAKETIME=SPEC``) before the CLI starts, so every time it reads is moved by SPEC, as in
    a fresh ``env LD_PRELOAD=… FAKETIME=SPEC python -m crystal_manager``. Only a relative offset (a start time
    would count from the zygote's start) and only the variables ``offset_env`` sets; anything else is
    executed. What the preloaded modules read from the clock when imported is the real time (only
    ``logging._startTime``, for ``relativeCreated``, which the app's log lines do not use; checked by
    tests/cli/test_cli_zygote.py). docs/decisions/0023-cli-fork-server.md.
    """

    # A zygote of its own beside the plain one: its own process, socket, start environment and lock (the
    # class attributes of _Zygote would otherwise be shared, and the two would close each other's).
    process: subprocess.Popen[bytes] | None = None
    control: socket.socket | None = None
    env: ClassVar[dict[str, str]] = {}
    owner = 0
    lock = threading.Lock()

    @staticmethod
    def start_env() -> dict[str, str]:
        """This process's environment with libfaketime preloaded, told to read ``FAKETIME`` at every call."""
        found = faketime.libfaketime()
        assert found is not None
        return {**os.environ, **faketime.offset_env("+0", found), "FAKETIME_NO_CACHE": "1"}

    @classmethod
    def usable(cls, env: Mapping[str, str]) -> bool:
        """Whether ``env`` is this process's, on a clock moved by a relative offset (``faketime.offset_env``)."""
        spec = env.get("FAKETIME", "")
        if not cls.can_fork() or faketime.libfaketime() is None or _OFFSET.fullmatch(spec) is None:
            return False
        start = cli_zygote.captured(cls.start_env())
        del start["FAKETIME_NO_CACHE"]
        if cli_zygote.captured(env) != {**start, "FAKETIME": spec}:
            return False
        allowed = {str(_ROOT), *(os.path.abspath(p) for p in cli_zygote.python_path(os.environ))}
        return all(os.path.abspath(p) in allowed for p in cli_zygote.python_path(env))


#: libfaketime's relative offsets: ``+10m``, ``-600``, ``+1.5h``, ``+1d``, ``-1y`` (none other is forked).
_OFFSET = re.compile(r"[+-][0-9]+(\.[0-9]+)?[smhdy]?")


def _forked(module: str, args: list[str], env: dict[str, str], input: str | None, timeout: float,
            cwd: str, machine_id: str | None = None,
            zygote: type[_Zygote] = _Zygote) -> subprocess.CompletedProcess[str]:
    argv = cli_argv(args, module)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    if input is not None:
        in_r, in_w = os.pipe()
    else:  # standard input is inherited, as subprocess.run does without input
        in_r, in_w = (os.open(os.devnull, os.O_RDONLY) if _closed(0) else -1), -1
    ours, theirs = socket.socketpair()
    try:
        request = json.dumps({"module": module, "args": args, "env": env, "cwd": cwd,
                              "machine_id": machine_id}).encode()
        socket.send_fds(zygote.connection(), [request], [in_r if in_r >= 0 else 0, out_w, err_w, theirs.fileno()])
    except BaseException:
        for fd in (out_r, err_r, in_w):
            if fd >= 0:
                os.close(fd)
        ours.close()
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            if fd >= 0:
                os.close(fd)
        theirs.close()
    data = input.encode(locale.getpreferredencoding(False)) if input is not None else b""
    try:
        code, out, err = _collect(ours, out_r, err_r, in_w, data, timeout, argv)
    finally:
        ours.close()
    return subprocess.CompletedProcess(argv, code, _text(out), _text(err))


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _collect(reply: socket.socket, out_r: int, err_r: int, in_w: int, data: bytes, timeout: float,
             argv: list[str]) -> tuple[int, bytes, bytes]:
    """Feed standard input, read both outputs to their end and the exit status (``communicate``)."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    status = b""
    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ)
    sel.register(err_r, selectors.EVENT_READ)
    sel.register(reply, selectors.EVENT_READ)
    if in_w >= 0:
        if data:
            os.set_blocking(in_w, False)
            sel.register(in_w, selectors.EVENT_WRITE)
        else:
            os.close(in_w)
            in_w = -1
    deadline = time.monotonic() + timeout
    killed = False
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                if killed:
                    break
                with contextlib.suppress(OSError):  # already reaped: only a descendant holds the pipes
                    reply.sendall(b"kill")
                killed, deadline = True, time.monotonic() + _AFTER_KILL
                continue
            for key, _ in sel.select(left):
                fd = key.fd
                if fd == in_w:
                    try:
                        data = data[os.write(in_w, data[:65536]):]
                    except BrokenPipeError:
                        data = b""  # the child did not read it all (as communicate() ignores)
                    if not data:
                        sel.unregister(in_w)
                        os.close(in_w)
                        in_w = -1
                elif fd == reply.fileno():
                    chunk = reply.recv(4096)
                    status += chunk
                    if not chunk:
                        sel.unregister(reply)
                else:
                    chunk = os.read(fd, 65536)
                    chunks[fd].append(chunk)
                    if not chunk:
                        sel.unregister(fd)
                        os.close(fd)
    finally:
        sel.close()
        for fd in (in_w, *(fd for fd in (out_r, err_r) if chunks[fd][-1:] != [b""])):
            if fd >= 0:
                os.close(fd)
    out, err = b"".join(chunks[out_r]), b"".join(chunks[err_r])
    if killed:
        raise subprocess.TimeoutExpired(argv, timeout, output=_text(out), stderr=_text(err))
    if not status:
        raise RuntimeError(f"the CLI zygote gave no exit status for {argv[3:]}")
    return int(json.loads(status)["returncode"]), out, err


def _text(raw: bytes) -> str:
    """Decoded as ``text=True`` does: the locale's encoding, universal newlines."""
    return raw.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")
