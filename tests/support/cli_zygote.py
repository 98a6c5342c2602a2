"""A process that has imported the app's CLI once and forks a real ``python -m crystal_manager`` per request.

Each ``python -m crystal_manager ARGS`` a test starts pays an interpreter start and ~0.3 s of imports
(httpx, cryptography, msgspec, python-tuf, keyring); the suite runs several hundred. A child forked from
this process runs the same entry point the interpreter runs for ``-m`` (``runpy._run_module_as_main``)
with the test's arguments, environment, folder and the test's own pipes as standard input, output and
error (real file descriptors passed over a Unix socket), and ends through the interpreter's own exit path
(exit status, tracebacks, KeyboardInterrupt, flushing at exit). tests/support/cli_run.py is the client;
docs/decisions/0023-cli-fork-server.md says why this is still the real CLI.

Protocol: the client's control socket (``SOCK_SEQPACKET``, fd given as argv[1]) carries one message per
run: a JSON object ``{"module": "crystal_manager", "args": [...], "env": {...}, "cwd": "...",
"machine_id": null}`` (another module only for tests/cli/test_cli_zygote.py's probe; ``machine_id``: a file
the child sees as /etc/machine-id, see ``own_machine_id``) with four descriptors (stdin, stdout,
stderr, reply socket). The reply socket gets ``{"returncode": N}`` (``-N`` for a signal, as subprocess)
when the child has been reaped; ``kill`` sent on it kills the child (a timeout); closing it does too.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from crystal_manager.cli.commands import COMMAND_MODULES

#: Imported once here. Only modules that read nothing from the environment, the folder or argv when they
#: are imported (checked by reading them; tests/cli/test_cli_zygote.py checks the children): the CLI
#: every run imports, and the heavy libraries its verbs import. keyring.core picks no backend until it is
#: first asked (keyring >= 23); Qt is never loaded here. httpcore, h11 and truststore are what httpx loads
#: when a verb first sends a request (a refused ``status --check-server``: 0.35 s of CPU fresh, 0.08 forked).
PRELOAD = ("crystal_manager.cli.main", *(f"crystal_manager.cli.commands.{name}" for name in COMMAND_MODULES),
           "keyring", "keyring.backends.fail", "keyring.backends.null", "httpx", "tuf.ngclient", "msgspec.json",
           "cryptography.hazmat.primitives.asymmetric.ed25519", "cryptography.x509",
           "httpcore", "h11", "truststore", "tuf.api.serialization.json", "encodings.idna",
           # The backends keyring imports when it picks one (a run without PYTHON_KEYRING_BACKEND): ~25 ms a
           # run. Their environment is read when asked for a priority, not on import. Not the macOS one: the
           # app keeps its bindings from loading off macOS (storage/secrets.py), a fresh process's way.
           "keyring.backends.SecretService", "keyring.backends.kwallet", "keyring.backends.libsecret",
           "keyring.backends.chainer", "keyring.backends.Windows",
           # What the children imported after the fork (a sys.modules diff over tests/cli and tests/server,
           # 288 runs): `update self`'s parser (every run), the gateway and its retry rule, the update service
           # and its modules, the privacy panel's, deletion, the log file. Their top levels define constants,
           # regexes, classes and locks only (updates/lock.py picks flock or msvcrt by sys.platform, the
           # interpreter's own). Each is still imported by the code that uses it: test_cli_zygote.py's
           # test_no_submodule_reached_without_its_import keeps a forgotten import from passing only here.
           "crystal_manager.cli.commands.update_self", "crystal_manager.cli.hints", "crystal_manager.net.gateway",
           "crystal_manager.net.retry", "crystal_manager.services.update_service", "crystal_manager.updates.install",
           "crystal_manager.updates.download", "crystal_manager.updates.delta", "crystal_manager.updates.fetcher",
           "crystal_manager.updates.trust", "crystal_manager.services.key_words",
           "crystal_manager.services.key_storage", "crystal_manager.services.privacy_view",
           "crystal_manager.services.privacy_words", "crystal_manager.services.deletion",
           "crystal_manager.privacy.policy", "crystal_manager.privacy.texts", "crystal_manager.storage.logfile",
           "crystal_protocol.messages",
           # The standard library's and others' they load on the way. _strptime builds its cache from the locale
           # and time zone (both must equal this process's: CAPTURED_NAMES) and rebuilds it when either differs
           # at a call. zipp is what importlib_metadata loads when keyring lists its plugins (a missing
           # python311.zip on sys.path is tried as a zip); the OpenSSL backend's state is OpenSSL's, which
           # cryptography's first import above set up here already.
           "runpy", "_strptime", "secrets", "encodings.ascii", "tarfile", "logging.handlers",
           "importlib.resources.readers", "zipp.compat.overlay", "cryptography.hazmat.backends.openssl")

#: Environment variables read when the interpreter starts or when a preloaded module is imported: a run
#: whose environment differs from this process's in one of them must be a real process (cli_run.py).
#: PYTHON* is the interpreter's own (PYTHONHASHSEED, PYTHONIOENCODING, PYTHONUTF8…), except the ones below;
#: OPENSSL_* (OPENSSL_CONF, OPENSSL_MODULES…) and CRYPTOGRAPHY_OPENSSL_NO_LEGACY are read when cryptography
#: first loads OpenSSL, which happens here. TZDIR and LOCPATH: where the C library finds the time zone and the
#: locale the interpreter sets up when it starts (read in C, so the import watch of test_cli_zygote.py misses them).
CAPTURED_PREFIXES = ("PYTHON", "LD_", "LC_", "FAKETIME", "DYLD_", "OPENSSL_")
CAPTURED_NAMES = frozenset({"LANG", "LANGUAGE", "TZ", "TZDIR", "LOCPATH", "GNUPG", "PYTHON_ZSTANDARD_IMPORT_POLICY",
                            "CRYPTOGRAPHY_OPENSSL_NO_LEGACY",
                            # libfaketime's own, without its FAKETIME prefix: with FAKERANDOM_SEED a forked child
                            # of the clock zygote drew other "random" bytes than a fresh run with the same seed.
                            "FAKERANDOM_SEED", "NO_FAKE_STAT", "FAKE_UTIME", "DONT_FAKE_MONOTONIC"})
#: Read later, by the code that uses them (keyring when it is first asked for a backend).
READ_LATER = frozenset({"PYTHON_KEYRING_BACKEND", "PYTHONBREAKPOINT"})
#: Read at start-up but only into ``sys.path`` / ``sys.dont_write_bytecode``, which the child sets as the
#: interpreter would (cli_run.py forks only when PYTHONPATH adds nothing but the source tree or what the
#: zygote has: nothing imported here could then have come from elsewhere).
APPLIED_IN_CHILD = frozenset({"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"})


def captured(env: Mapping[str, str]) -> dict[str, str]:
    """The part of ``env`` a forked child cannot take over from its own (must equal the zygote's)."""
    return {k: v for k, v in env.items()
            if (k.startswith(CAPTURED_PREFIXES) or k in CAPTURED_NAMES)
            and k not in READ_LATER and k not in APPLIED_IN_CHILD}


def python_path(env: Mapping[str, str]) -> list[str]:
    """The entries ``PYTHONPATH`` puts on ``sys.path``."""
    return [part for part in env.get("PYTHONPATH", "").split(os.pathsep) if part]


MAX_MESSAGE = 1 << 20


@dataclass
class _Run:
    """One forked child: its pidfd and the client's reply socket."""

    pid: int
    pidfd: int
    reply: socket.socket


@dataclass
class _Job:
    """What a forked child is to run (only ever returned in the child)."""

    module: str
    args: list[str]
    env: dict[str, str]
    cwd: str
    machine_id: str | None = None
    fds: list[int] = field(default_factory=list)


def _preload() -> None:
    for name in PRELOAD:
        importlib.import_module(name)


def _receive(control: socket.socket) -> tuple[dict[str, object], list[int]] | None:
    """The next request, or None when the client has gone (end of the zygote)."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(control, MAX_MESSAGE, 8)
    except ConnectionResetError:
        return None
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    return json.loads(data), fds


def _serve(control: socket.socket) -> _Job | None:
    """Fork a child per request and report how each ended; returns only in a forked child (its job)."""
    runs: dict[int, _Run] = {}  # by pidfd
    replies: dict[int, _Run] = {}  # by reply socket's fd
    while True:
        watched = [control.fileno(), *runs, *replies]
        ready, _, _ = select.select(watched, [], [])
        for fd in ready:
            if fd == control.fileno():
                received = _receive(control)
                if received is None:
                    for run in runs.values():
                        _kill(run)
                    return None
                request, fds = received
                sys.stdout.flush()
                sys.stderr.flush()
                # What was loaded here stays out of the child's collections (CPython's advice before a fork:
                # fewer copied pages, and the exit's last collection skips ~500 modules: 0.13 -> 0.04 s).
                gc.freeze()
                pid = os.fork()
                if pid == 0:
                    _forget(control, runs)
                    return _Job(str(request.get("module", "crystal_manager")),
                                [str(a) for a in _list(request["args"])],
                                {str(k): str(v) for k, v in _dict(request["env"]).items()},
                                str(request["cwd"]), _optional_str(request.get("machine_id")), fds)
                for received_fd in fds[:3]:
                    os.close(received_fd)
                run = _Run(pid, os.pidfd_open(pid), socket.socket(fileno=fds[3]))
                runs[run.pidfd] = run
                replies[run.reply.fileno()] = run
            elif fd in runs:
                run = runs.pop(fd)
                replies.pop(run.reply.fileno(), None)
                _, status = os.waitpid(run.pid, 0)
                with contextlib.suppress(OSError):  # else the client is gone (it stopped waiting)
                    run.reply.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode())
                run.reply.close()
                os.close(run.pidfd)
            elif fd in replies:
                run = replies[fd]
                if run.reply.recv(64) in (b"", b"kill"):  # a timeout, or the client went away
                    _kill(run)
                replies.pop(fd)


def _kill(run: _Run) -> None:
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(run.pidfd, signal.SIGKILL)


def _forget(control: socket.socket, runs: dict[int, _Run]) -> None:
    """In the child: close every descriptor of the zygote's (like ``close_fds=True``)."""
    control.close()
    for run in runs.values():
        run.reply.close()
        os.close(run.pidfd)


def _list(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def _dict(value: object) -> dict[object, object]:
    assert isinstance(value, dict)
    return value


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


# <sched.h> and <sys/mount.h> (Linux): the calls ``unshare -rm`` and ``mount --bind`` make.
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000


class NamespaceFailed(Exception):
    """A call of ``own_machine_id`` failed: what, and the exit status the command would give (1 from
    ``unshare``, 32 from ``mount``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def own_machine_id(id_file: str) -> None:
    """In a forked child: ``id_file`` as /etc/machine-id, in a user and mount namespace of this process's own.

    The same system calls as ``unshare -rm sh -c 'mount --bind FILE /etc/machine-id'`` (util-linux): a new
    user and mount namespace, setgroups denied, this user mapped to root inside (uid and gid 0, as ``-r``
    gives), every mount made private (``-m``'s default propagation), then the bind mount. A new user
    namespace needs a single-threaded caller: a child just forked is. Raises NamespaceFailed.
    """
    import ctypes  # only in the children that ask for it: the zygote's own imports stay those of PRELOAD

    libc = ctypes.CDLL(None, use_errno=True)
    libc.unshare.argtypes = [ctypes.c_int]
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]

    def check(result: int, what: str, status: int = 1) -> None:
        if result != 0:
            raise NamespaceFailed(f"{what}: {os.strerror(ctypes.get_errno())}", status)

    uid, gid = os.geteuid(), os.getegid()
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w", encoding="ascii") as stream:
                stream.write(text)
        except OSError as error:
            raise NamespaceFailed(f"writing /proc/self/{name}: {error.strerror}", 1) from error
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    check(libc.mount(os.fsencode(id_file), b"/etc/machine-id", None, MS_BIND, None),
          f"mounting {id_file} on /etc/machine-id", 32)


def _become(job: _Job) -> None:
    """In the child: the test's pipes, folder, environment and argv, as a fresh ``python -m`` would have."""
    for target, fd in enumerate(job.fds[:3]):
        os.dup2(fd, target)  # inheritable, as standard streams are
    for fd in job.fds:
        if fd > 2:
            os.close(fd)
    os.chdir(job.cwd)
    zygote_path = python_path(os.environ)
    shared = os.environ.get("FAKETIME_SHARED")
    os.environ.clear()
    os.environ.update(job.env)
    if shared is not None and "FAKETIME" in job.env:
        # libfaketime's note of its shared memory, which it sets when a program starts (cli_run._ClockZygote):
        # a fresh faked run has its own library's; this child's library is the zygote's.
        os.environ["FAKETIME_SHARED"] = shared
    # ``-m`` puts the folder first, then PYTHONPATH's entries, then the interpreter's own (the same here).
    sys.path[:1 + len(zygote_path)] = [os.getcwd(), *map(os.path.abspath, python_path(job.env))]
    sys.dont_write_bytecode = bool(job.env.get("PYTHONDONTWRITEBYTECODE"))
    sys.argv[:] = ["-m", *job.args]  # runpy sets argv[0] to the module's file, as for ``-m``
    sys.orig_argv[:] = [sys.executable, "-m", job.module, *job.args]
    _renote(job.module)


#: Preloaded modules that note the folder or argv when imported (found by tests/cli/test_cli_zygote.py, which
#: imports PRELOAD with os.environ, os.getcwd and sys.argv watched); ``_renote`` sets what they noted again.
NOTES_AT_IMPORT = frozenset({"rich", "keyring.backends.kwallet"})


def _renote(module: str) -> None:
    """In the child: what ``NOTES_AT_IMPORT`` would have noted had they been imported in a fresh ``-m`` run."""
    rich = sys.modules.get("rich")  # httpx imports rich (its own CLI), which notes the folder on import
    if rich is not None and hasattr(rich, "_IMPORT_CWD"):
        rich._IMPORT_CWD = os.getcwd()  # type: ignore[attr-defined]
    kwallet = sys.modules.get("keyring.backends.kwallet")
    if kwallet is not None and hasattr(kwallet, "DBusKeyring"):
        # The name KWallet shows for the app is ``sys.argv[0]`` when the module was imported: in a fresh run,
        # after runpy set it to the file it runs (the zygote's own is "-c").
        kwallet.DBusKeyring.appid = _main_file(module) or "Python keyring library"


def _main_file(module: str) -> str | None:
    """The file ``python -m MODULE`` runs (``runpy`` puts it in ``sys.argv[0]``)."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(f"{module}.__main__")
    except (ImportError, ValueError):  # runpy says so next, as a fresh run would
        return None
    return None if spec is None else spec.origin


def main() -> None:
    """Serve the client on the control socket; in a forked child, run the CLI and end as ``-m`` would."""
    control = socket.socket(fileno=int(sys.argv[1]))
    _preload()
    job = _serve(control)
    if job is None:
        return
    _become(job)
    if job.machine_id is not None:
        try:
            own_machine_id(job.machine_id)
        except NamespaceFailed as error:  # as unshare or mount would: a message and a failed run, never the real ID
            print(f"cli_zygote: {error}", file=sys.stderr, flush=True)
            os._exit(error.status)
    import runpy  # preloaded (PRELOAD)

    # The interpreter's own code path for ``python -m``. A run that returns or exits with a status ends through
    # the interpreter's exit steps up to its teardown (``_end``); anything else (a status that is no number,
    # an uncaught exception's traceback and exit 1, KeyboardInterrupt's SIGINT) is left to the interpreter.
    try:
        runpy._run_module_as_main(job.module)  # type: ignore[attr-defined]
    except SystemExit as stop:
        if not (stop.code is None or (isinstance(stop.code, int) and 0 <= stop.code <= 255)):
            raise
        _end(stop.code or 0)
    else:
        _end(0)


def _end(status: int) -> None:
    """End a child as ``Py_FinalizeEx`` does, without the teardown of every module the zygote loaded.

    The same steps in the same order: wait for the threads that are not daemons, run the atexit handlers
    (logging's flush, weakref finalizers, the app's own), collect this run's garbage, flush the files this run
    left open and the standard streams. Then ``os._exit``: what is skipped is freeing the preloaded modules'
    objects, ~40 ms of copied pages a run, which nothing observable depends on (Python does not promise
    ``__del__`` for objects alive at exit). If flushing a standard stream fails, the interpreter takes over with
    the same status, and reports it and exits 120 as a fresh process does. docs/decisions/0023.
    """
    import _io  # the C classes every file object is made of (a cheap isinstance; io.IOBase is an ABC)
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:  # ctrl-C while waiting for a thread: reported, and the exit goes on (not -SIGINT)
            _unraisable(threading)
    atexit._run_exitfuncs()
    gc.collect()  # this run's objects only: the preloaded ones are frozen
    for thing in gc.get_objects():  # likewise this run's: a file left open is flushed as its teardown would
        if isinstance(thing, _io._IOBase) and thing is not sys.stdout and thing is not sys.stderr:
            with contextlib.suppress(Exception):
                if not thing.closed:
                    thing.flush()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            raise SystemExit(status) from None
    os._exit(status)


def _unraisable(where: object) -> None:
    """Report the exception being handled as ``PyErr_WriteUnraisable(where)`` does (through
    ``sys.unraisablehook``, from the frame that raised it), as ``Py_FinalizeEx`` reports a failed
    ``threading._shutdown``."""
    error = sys.exc_info()[1]
    assert error is not None and error.__traceback__ is not None
    seen: list[object] = []
    hook, sys.unraisablehook = sys.unraisablehook, seen.append

    class _Probe:
        def __del__(self) -> None:
            raise RuntimeError

    try:
        _Probe()  # the interpreter builds the hook's argument (UnraisableHookArgs has no public constructor)
    finally:
        sys.unraisablehook = hook
    traceback = error.__traceback__.tb_next  # from where it was raised: C called _shutdown, not _end
    hook(type(seen[0])((type(error), error.with_traceback(traceback), traceback, None, where)))  # type: ignore[call-arg,arg-type]
