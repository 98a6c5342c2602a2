"""The headless demo's steps: ``crystal-manager ARGS`` as a process of its own, forked where that is safe.

Each step of the walk is the app's CLI in its own process, as a user would run it. A fresh interpreter for
each of its twelve steps spent ~0.25 s of CPU importing httpx, cryptography, python-tuf and keyring for a
few milliseconds of work. On Linux the demo imports those once and forks a child per step; the child takes
the step's environment and arguments, runs the same entry point the interpreter runs for
``python -m crystal_manager``, and ends as that would (exit code, traceback, atexit, flushed output).
Elsewhere, or when the step's environment differs in what an interpreter reads when it starts, it is a
fresh ``python -m crystal_manager``. docs/decisions/0024-demo-steps-forked.md says why that is still the CLI.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

#: Imported once before the first fork: the CLI every run imports, and the libraries its verbs import.
#: None of them reads the environment, the folder or argv when imported (keyring picks its backend on
#: first use, not on import); the verbs the walk runs, a subset of what the tests' CLI fork server loads.
PRELOAD = ("crystal_manager.cli.main", "crystal_manager.cli.commands.status", "crystal_manager.cli.commands.license",
           "crystal_manager.cli.commands.update", "crystal_manager.cli.commands.privacy", "keyring",
           "keyring.backends.fail", "keyring.backends.null", "httpx", "tuf.ngclient", "msgspec.json",
           "cryptography.hazmat.primitives.asymmetric.ed25519", "cryptography.x509", "httpcore", "h11",
           "truststore", "tuf.api.serialization.json", "encodings.idna")
#: Environment read by an interpreter as it starts (a step that differs here gets a fresh interpreter).
_STARTUP_PREFIXES = ("PYTHON", "LD_", "LC_", "DYLD_", "FAKETIME")
_STARTUP_NAMES = frozenset({"LANG", "LANGUAGE", "TZ"})
_READ_LATER = frozenset({"PYTHON_KEYRING_BACKEND"})


def _startup(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items()
            if (k.startswith(_STARTUP_PREFIXES) or k in _STARTUP_NAMES) and k not in _READ_LATER}


def _threads() -> int:
    """Threads in this process, those ``threading`` did not start too (``_thread``, a C library's own)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def can_fork(env: Mapping[str, str]) -> bool:
    """Whether a forked child can be the process ``env`` asks for (Linux, no threads, same start-up)."""
    return (sys.platform.startswith("linux") and threading.active_count() == 1 and _threads() == 1
            and _startup(env) == _startup(os.environ))


def preload() -> None:
    """Import what every step would import (once; a step forked later finds it loaded)."""
    for name in PRELOAD:
        importlib.import_module(name)


def run_step(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``crystal-manager ARGS`` in its own process with ``env``: as ``subprocess.run(..., capture_output=True,
    text=True, timeout=timeout)`` gives it."""
    argv = [sys.executable, "-m", "crystal_manager", *args]
    if not can_fork(env):
        return subprocess.run(argv, env=dict(env), text=True, capture_output=True, check=False, timeout=timeout)
    preload()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # what is loaded here stays out of the child's collections (CPython's advice before a fork)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in _child; coverage of it is the parent's output
        os.close(out_r)
        os.close(err_r)
        _child(list(args), dict(env), out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    status: int | None = None
    try:
        out, err = _collect(out_r, err_r, timeout, argv)
        status = os.waitpid(pid, 0)[1]
    except BaseException:  # a timeout, Ctrl-C: as subprocess.run, the step is killed and reaped (never left
        if status is None:  # running, or a zombie); not yet reaped, the pid is still the child's
            with contextlib.suppress(ProcessLookupError, ChildProcessError):  # reaped just before the signal
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        raise
    finally:
        os.close(out_r)
        os.close(err_r)
    return subprocess.CompletedProcess(argv, os.waitstatus_to_exitcode(status), _text(out), _text(err))


def _child(args: list[str], env: dict[str, str], out_w: int, err_w: int) -> None:
    """In the forked child: become ``python -m crystal_manager ARGS`` and end as it would; never returns
    (the demo's own clean-up above this frame is the parent's, not the child's)."""
    code = 1
    try:
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        os.environ.clear()
        os.environ.update(env)
        import runpy

        sys.argv[:] = ["-m", *args]  # runpy sets argv[0] to the module's file, as ``-m`` does
        # The ``crystal-manager`` script imported the entry module as a module; ``-m`` runs it as __main__.
        sys.modules.pop("crystal_manager.__main__", None)
        try:
            runpy._run_module_as_main("crystal_manager")  # type: ignore[attr-defined]
            code = 0
        except SystemExit as stop:  # what the interpreter does with SystemExit
            if stop.code is None:
                code = 0
            elif isinstance(stop.code, int):
                code = stop.code
            else:
                print(stop.code, file=sys.stderr)
        except KeyboardInterrupt:  # the interpreter ends by SIGINT then (the parent sees -SIGINT)
            sys.stdout.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:  # an uncaught exception: its traceback and exit 1
            sys.excepthook(*sys.exc_info())
        import atexit

        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed by the verb
                stream.flush()
        os._exit(code & 0xFF)


def _collect(out_r: int, err_r: int, timeout: float, argv: list[str]) -> tuple[bytes, bytes]:
    """Both outputs to their end (``communicate``); past ``timeout``, TimeoutExpired."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(out_r, selectors.EVENT_READ)
        sel.register(err_r, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:  # the caller kills the child
                raise subprocess.TimeoutExpired(argv, timeout, output=b"".join(chunks[out_r]),
                                                stderr=b"".join(chunks[err_r]))
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    chunks[key.fd].append(chunk)
                else:
                    sel.unregister(key.fd)
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _text(raw: bytes) -> str:
    """Decoded as ``text=True`` does: the locale's encoding, universal newlines."""
    import locale

    return raw.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


__all__ = ["PRELOAD", "can_fork", "preload", "run_step"]
