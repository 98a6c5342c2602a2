"""The CLI runner (tests/support/cli_run.py): a forked child is the process a real ``python -m`` would be.

The probe module reports what its process was started with; run through the zygote and as a real process
with the same request the reports agree (except who the parent is). The app's own verbs give the same
output and exit status both ways.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.licensing.computers import need_namespaces
from tests.support import cli_run, cli_zygote
from tests.support.cli_run import run_cli, run_module
from tests.support.faketime import need_libfaketime, offset_env

ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests.support.cli_probe"


def probe_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment unlike the zygote's: only what an interpreter reads at start-up kept (else the run is
    not forked), PATH, and its own home, keyring backend, marker and PYTHONPATH to the probe."""
    env = {**cli_zygote.captured(os.environ), "PATH": os.environ.get("PATH", os.defpath)}
    env.update(HOME=str(tmp_path / "home"), CRYSTAL_MANAGER_HOME=str(tmp_path / "app"), PROBE_MARKER="child",
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", PYTHONPATH=str(ROOT), **extra)
    return env


def real(module: str, args: list[str], env: dict[str, str], cwd: Path,
         input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], env=env, cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=60, check=False)


def forked_pid() -> int:
    """The zygote's pid (a forked child's parent), starting it if needed."""
    cli_run._Zygote.connection()
    assert cli_run._Zygote.process is not None
    return cli_run._Zygote.process.pid


def test_child_sees_its_own_env_cwd_argv_and_stdin(tmp_path: Path) -> None:
    env = probe_env(tmp_path, PYTHONDONTWRITEBYTECODE="1")
    work = tmp_path / "work"
    work.mkdir()
    forked = run_module(PROBE, ["report", "two words"], env=env, cwd=work, input="typed\nlines\n")
    fresh = real(PROBE, ["report", "two words"], env, work, input="typed\nlines\n")
    assert forked.returncode == fresh.returncode == 0, forked.stderr + fresh.stderr
    assert forked.stderr == fresh.stderr == "to stderr\n"
    mine, theirs = json.loads(forked.stdout), json.loads(fresh.stdout)
    assert mine == theirs
    assert mine["env"] == env and "PROBE_MARKER" not in os.environ and "QT_QPA_PLATFORM" in os.environ
    assert mine["cwd"] == str(work) != os.getcwd()
    assert mine["argv"] == [str(ROOT / "tests" / "support" / "cli_probe.py"), "report", "two words"]
    assert mine["stdin"] == "typed\nlines\n"
    assert mine["isatty"] == [False, False, False]
    assert mine["keyring"] == "keyring.backends.null"
    assert mine["threads"] == 1 and mine["fd_count"] == 4


def test_forked_unless_the_environment_needs_a_fresh_interpreter(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    env = probe_env(tmp_path)
    parent = json.loads(run_module(PROBE, ["report"], env=env, cwd=tmp_path, input="").stdout)
    zygote = forked_pid()
    assert parent["env"]["PROBE_MARKER"] == "child"

    def started_by(extra: dict[str, str]) -> str:
        out = run_module(PROBE, ["report"], env={**env, **extra}, cwd=tmp_path, input="")
        return str(json.loads(out.stdout)["env"].get("PROBE_MARKER", ""))

    # A fresh interpreter: libfaketime, an interpreter option, another locale or time zone.
    for extra in ({"FAKETIME": "@2030-01-01 00:00:00", "LD_PRELOAD": "/nonexistent.so"},
                  {"PYTHONHASHSEED": "7"}, {"LC_ALL": "C.UTF-8"}, {"TZ": "Pacific/Auckland"},
                  {"TZDIR": "/nonexistent-zoneinfo"}):
        assert started_by(extra) == "child"
        assert cli_run._Zygote.usable({**env, **extra}) is False
    assert cli_run._Zygote.usable(env) is True
    assert cli_run._Zygote.usable({**env, "PYTHONPATH": "/elsewhere"}) is False
    monkeypatch.setenv("CRYSTAL_TEST_CLI_FORK", "0")
    assert cli_run._Zygote.usable(env) is False
    assert zygote > 0


def test_parent_is_the_zygote_or_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """getppid tells the two paths apart: proof that the forked path is taken, and the fallback too."""
    (tmp_path / "ppid_probe.py").write_text("import os; print(os.getppid())")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    forked = run_module("ppid_probe", [], env=env, cwd=tmp_path)
    assert int(forked.stdout) == forked_pid()
    faked = run_module("ppid_probe", [], env={**env, "FAKETIME": "+0"}, cwd=tmp_path)
    assert int(faked.stdout) == os.getpid()
    monkeypatch.setenv("CRYSTAL_TEST_CLI_FORK", "0")
    assert int(run_module("ppid_probe", [], env=env, cwd=tmp_path).stdout) == os.getpid()


def test_zygote_follows_this_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A zygote started before this process's time zone changed would give children the old one: restarted."""
    (tmp_path / "tz_probe.py").write_text("import os, time; print(os.getppid(), time.tzname[0])")
    before = forked_pid()
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    out = run_module("tz_probe", [], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    parent, zone = out.stdout.split()
    assert int(parent) == forked_pid() != before and zone == "IST"


@pytest.mark.parametrize(("args", "expected"), [
    (["exit", "0"], 0), (["exit", "3"], 3), (["exit", "130"], 130), (["exit", "141"], 141),
    (["raise"], 1), (["interrupt"], -signal.SIGINT), (["signal", str(int(signal.SIGTERM))], -signal.SIGTERM),
    (["signal", str(int(signal.SIGKILL))], -signal.SIGKILL),
])
def test_exit_status_as_subprocess_gives_it(tmp_path: Path, args: list[str], expected: int) -> None:
    env = probe_env(tmp_path)
    forked = run_module(PROBE, args, env=env, cwd=tmp_path, input="")
    fresh = real(PROBE, args, env, tmp_path, input="")
    assert forked.returncode == fresh.returncode == expected
    assert ("Traceback" in forked.stderr) == ("Traceback" in fresh.stderr) == (args[0] in {"raise", "interrupt"})


def test_the_exit_does_its_work_as_a_fresh_process_does(tmp_path: Path) -> None:
    """Threads joined, atexit handlers and finalizers run, a file left open and unflushed output written, in
    the same order and with the same status, though a forked child skips the teardown (cli_zygote._end)."""
    env = probe_env(tmp_path)
    forked = run_module(PROBE, ["leave", str(tmp_path / "forked.txt")], env=env, cwd=tmp_path, input="")
    fresh = real(PROBE, ["leave", str(tmp_path / "fresh.txt")], env, tmp_path, input="")
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert forked.returncode == 5
    assert forked.stdout == ("no newline, not flushedthread done\nfinalized at exit\n"
                             "atexit last registered, runs first\natexit first registered, runs last\n"
                             "collected at exit\n")
    assert (tmp_path / "forked.txt").read_text() == (tmp_path / "fresh.txt").read_text() != ""


def test_ctrl_c_while_the_exit_waits_for_a_thread_keeps_the_status_as_fresh(tmp_path: Path) -> None:
    """Py_FinalizeEx reports a failed ``threading._shutdown`` as ignored and exits with the run's status; a
    forked child ending through cli_zygote._end must too (it ended by SIGINT with a traceback before)."""
    env = probe_env(tmp_path)
    forked = run_module(PROBE, ["interrupted-join"], env=env, cwd=tmp_path, input="")
    fresh = real(PROBE, ["interrupted-join"], env, tmp_path, input="")
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert forked.returncode == 3 and "Exception ignored in: <module 'threading'" in forked.stderr
    assert forked.stderr.endswith("KeyboardInterrupt: \n") and forked.stdout == ""


def test_output_that_cannot_be_flushed_at_exit_is_exit_120_both_ways(tmp_path: Path) -> None:
    env = probe_env(tmp_path)
    forked = run_module(PROBE, ["unflushable"], env=env, cwd=tmp_path, input="")
    fresh = real(PROBE, ["unflushable"], env, tmp_path, input="")
    assert forked.returncode == fresh.returncode == 120
    assert forked.stderr == fresh.stderr and "Exception ignored" in forked.stderr


def test_timeout_kills_the_child_and_keeps_its_output(tmp_path: Path) -> None:
    with pytest.raises(subprocess.TimeoutExpired) as stopped:
        run_module(PROBE, ["sleep"], env=probe_env(tmp_path), cwd=tmp_path, input="", timeout=2)
    pid = int(str(stopped.value.stdout))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not left running


@pytest.mark.parametrize("args", [["--version"], ["status"], ["status", "--json"], ["no-such-verb"],
                                  ["activate", "-"], ["privacy", "catalog"]])
def test_app_cli_forked_and_fresh_agree(tmp_path: Path, args: list[str]) -> None:
    env = probe_env(tmp_path, CRYSTAL_MANAGER_SERVER="http://127.0.0.1:9")
    forked = run_cli(args, env=env, input="not-a-key\n", cwd=tmp_path)
    fresh = real("crystal_manager", args, env, tmp_path, input="not-a-key\n")
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert forked.args == [sys.executable, "-m", "crystal_manager", *args]


# A computer of its own (tests/licensing/computers.py): /etc/machine-id bind-mounted in a user and mount
# namespace, made in the forked child (cli_zygote.own_machine_id) or by ``unshare -rm sh -c 'mount --bind'``.
NS_PROBE = '''
import json, os, sys
mounts = [line.split() for line in open("/proc/self/mountinfo")]
status = dict(line.rstrip("\\n").split(":\\t", 1) for line in open("/proc/self/status"))
print(json.dumps({
    "machine_id": open("/etc/machine-id").read(),
    "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups())],
    "maps": [open(f"/proc/self/{name}").read().split() for name in ("setgroups", "uid_map", "gid_map")],
    "status": {k: v for k, v in status.items() if k.startswith(("Cap", "Uid", "Gid", "Groups", "NoNewPrivs"))},
    "mounts": [(m[3], m[4], m[5], m[6:m.index("-")], m[m.index("-") + 1:]) for m in mounts],
    "user_ns": os.readlink("/proc/self/ns/user"), "mnt_ns": os.readlink("/proc/self/ns/mnt"),
    "file": [os.stat(sys.argv[1]).st_uid, os.access(sys.argv[1], os.W_OK)],
    "env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv, "ppid": os.getppid(),
}))
'''


def ns_report(tmp_path: Path, machine_id: Path, env: dict[str, str], *, forked: bool) -> dict[str, object]:
    """What the probe saw, run through ``run_module(machine_id=...)`` or executed under ``unshare -rm``."""
    (tmp_path / "ns_probe.py").write_text(NS_PROBE)
    mine = tmp_path / "mine.txt"
    mine.write_text("a file of this user's")
    if forked:
        proc = run_module("ns_probe", [str(mine)], env=env, cwd=tmp_path, machine_id=machine_id)
    else:
        proc = subprocess.run(cli_run.namespaced_argv(machine_id, [sys.executable, "-m", "ns_probe", str(mine)]),
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def id_file(folder: Path, machine_id: str) -> Path:
    path = folder / f"{machine_id[:4]}.machine-id"
    path.write_text(machine_id + "\n", encoding="ascii")
    return path


def this_process_namespaces() -> tuple[str, str]:
    return os.readlink("/proc/self/ns/user"), os.readlink("/proc/self/ns/mnt")


@pytest.mark.parametrize("pwd", ["absent", "the folder", "another folder"])
def test_forked_computer_is_the_executed_one(tmp_path: Path, pwd: str) -> None:
    """Same machine ID, user and group IDs, capabilities, mounts and their propagation, file ownership, and
    environment (sh exports PWD: the given one if it names the folder, else the folder)."""
    need_namespaces()
    assert cli_run.forked_namespaces_work()
    env = probe_env(tmp_path)
    if pwd != "absent":
        env["PWD"] = str(tmp_path if pwd == "the folder" else ROOT)
    own = id_file(tmp_path, "7" * 32)
    forked = ns_report(tmp_path, own, env, forked=True)
    executed = ns_report(tmp_path, own, env, forked=False)
    assert forked.pop("ppid") == forked_pid() != executed.pop("ppid")  # the forked path was taken
    assert (forked.pop("user_ns"), forked.pop("mnt_ns")) != this_process_namespaces()
    assert (executed.pop("user_ns"), executed.pop("mnt_ns")) != this_process_namespaces()
    assert forked == executed
    assert forked["machine_id"] == "7" * 32 + "\n"
    ids = forked["ids"]
    assert isinstance(ids, list) and ids[:4] == [0, 0, 0, 0]  # -r: this user is root inside
    assert forked["maps"] == [["deny"], ["0", str(os.geteuid()), "1"], ["0", str(os.getegid()), "1"]]
    assert forked["file"] == [0, True]
    assert forked["env"] == {**env, "PWD": str(tmp_path)}


def test_two_computers_two_ids_and_the_zygote_keeps_the_real_one(tmp_path: Path) -> None:
    need_namespaces()
    real_id = Path("/etc/machine-id").read_text()
    env = probe_env(tmp_path)
    seen = [ns_report(tmp_path, id_file(tmp_path, digit * 32), env, forked=True) for digit in "12"]
    assert [s["machine_id"] for s in seen] == ["1" * 32 + "\n", "2" * 32 + "\n"]
    assert seen[0]["ppid"] == seen[1]["ppid"] == forked_pid()
    assert this_process_namespaces()[1] not in (seen[0]["mnt_ns"], seen[1]["mnt_ns"])
    # The mounts stayed in the children: neither this process nor the zygote's next plain child sees them.
    assert Path("/etc/machine-id").read_text() == real_id
    (tmp_path / "id_probe.py").write_text("print(open('/etc/machine-id').read(), end='')")
    assert run_module("id_probe", [], env=env, cwd=tmp_path).stdout == real_id


def test_computer_executed_when_the_zygote_cannot_be_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libfaketime (or forking turned off): the ``unshare -rm`` command runs a real interpreter, same ID."""
    need_namespaces()
    own = id_file(tmp_path, "3" * 32)
    faked = ns_report(tmp_path, own, probe_env(tmp_path, FAKETIME="+0", LD_PRELOAD=""), forked=True)
    assert faked["ppid"] == os.getpid() and faked["machine_id"] == "3" * 32 + "\n"
    monkeypatch.setenv("CRYSTAL_TEST_CLI_FORK", "0")
    plain = ns_report(tmp_path, own, probe_env(tmp_path), forked=True)
    assert plain["ppid"] == os.getpid() and plain["machine_id"] == "3" * 32 + "\n"


def test_missing_machine_id_file_fails_as_mount_does(tmp_path: Path) -> None:
    """Never the real ID: the run fails before the program starts, with mount's exit status, both ways."""
    need_namespaces()
    (tmp_path / "id_probe.py").write_text("print(open('/etc/machine-id').read())")
    missing = tmp_path / "missing.machine-id"
    forked = run_module("id_probe", [], env=probe_env(tmp_path), cwd=tmp_path, machine_id=missing)
    executed = subprocess.run(cli_run.namespaced_argv(missing, [sys.executable, "-m", "id_probe"]),
                              env=probe_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              check=False)
    assert forked.returncode == executed.returncode == 32
    assert forked.stdout == executed.stdout == ""
    assert str(missing) in forked.stderr and str(missing) in executed.stderr


OFFLINE_FIELDS = ("fingerprint", "fingerprint_version", "environment", "os", "label", "format", "key_digest")


def test_app_identifies_the_same_computer_forked_and_executed(tmp_path: Path) -> None:
    """The app's own fingerprint (an offline activation request, no network): equal both ways for one ID,
    different for another, and the one the fingerprint code makes from that ID."""
    need_namespaces()
    from crystal_manager.licensing.fingerprint import MachineFacts, identify
    from crystal_protocol.licensekey import generate_key

    key = generate_key()

    def request(machine_id: str, name: str, *, forked: bool) -> dict[str, str]:
        env = {**probe_env(tmp_path), "CRYSTAL_MANAGER_HOME": str(tmp_path / name),
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        out = tmp_path / f"{name}.json"
        args = ["activate", key, "--request-file", str(out)]
        own = id_file(tmp_path, machine_id)
        if forked:
            proc = run_cli(args, env=env, cwd=tmp_path, machine_id=own)
        else:
            proc = subprocess.run(cli_run.namespaced_argv(own, cli_run.cli_argv(args)), env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        sent: dict[str, str] = json.loads(out.read_text())
        return {name: sent[name] for name in OFFLINE_FIELDS}

    forked = request("4" * 32, "forked", forked=True)
    assert forked == request("4" * 32, "executed", forked=False)
    ident = identify(MachineFacts(machine_id="4" * 32, environment=forked["environment"], os_family="Linux"))
    assert forked["fingerprint"] == ident.fingerprint
    assert request("5" * 32, "other", forked=True)["fingerprint"] != forked["fingerprint"]


# Imports PRELOAD in a fresh interpreter with os.environ, os.getcwd, sys.argv and the time module watched: which
# variables it reads, which modules look at the folder or argv (the zygote's, not a run's), and which read the
# wall clock (in the clock zygote: the real time, where a fresh faked run would read the moved one).
WATCH_PROBE = '''
import importlib, json, os, sys
from collections.abc import MutableMapping
env_read, noted = set(), set()

def reader():
    frame = sys._getframe(2)
    while frame.f_globals.get("__name__") in {"os", "posixpath", "genericpath", "pathlib", "_collections_abc",
                                              "__main__"}:  # the module that asked, not os.path/Path.cwd
        frame = frame.f_back
    return frame.f_globals.get("__name__")

class Environ(MutableMapping):
    def __init__(self, real): self.real = real
    def __getitem__(self, key): env_read.add(key); return self.real[key]
    def __contains__(self, key): env_read.add(key); return key in self.real
    def __setitem__(self, key, value): self.real[key] = value
    def __delitem__(self, key): del self.real[key]
    def __iter__(self): env_read.add("*every variable*"); return iter(self.real)
    def __len__(self): return len(self.real)
    def copy(self): env_read.add("*every variable*"); return dict(self.real)

class Argv(list):
    def __getitem__(self, i): noted.add(reader()); return super().__getitem__(i)
    def __iter__(self): noted.add(reader()); return super().__iter__()
    def __len__(self): noted.add(reader()); return super().__len__()

real_getcwd = os.getcwd
def getcwd(): noted.add(reader()); return real_getcwd()

os.environ, os.getcwd, sys.argv = Environ(os.environ), getcwd, Argv(sys.argv)

import time  # the modules that read the wall clock (a call without a time given)
clock_read = set()
def watch(name, takes_time):
    real = getattr(time, name)
    def call(*args, **kwargs):
        if not takes_time or not args:
            clock_read.add(sys._getframe(1).f_globals.get("__name__"))
        return real(*args, **kwargs)
    setattr(time, name, call)
for name in ("time", "time_ns"):
    watch(name, False)
for name in ("localtime", "gmtime", "ctime", "asctime"):
    watch(name, True)
real_strftime = time.strftime
def strftime(fmt, *args):
    if not args:
        clock_read.add(sys._getframe(1).f_globals.get("__name__"))
    return real_strftime(fmt, *args)
time.strftime = strftime

from tests.support.cli_zygote import PRELOAD
for name in PRELOAD:
    importlib.import_module(name)
print(json.dumps({"env": sorted(env_read), "noted": sorted(noted), "clock": sorted(clock_read)}))
'''


@pytest.fixture(scope="module")
def preload_watch() -> dict[str, list[str]]:
    """What importing PRELOAD in a fresh interpreter read (WATCH_PROBE), once per module."""
    proc = subprocess.run([sys.executable, "-c", WATCH_PROBE], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    seen: dict[str, list[str]] = json.loads(proc.stdout)
    return seen


@pytest.mark.xdist_group("cli-zygote-preload-watch")  # one worker: WATCH_PROBE runs once for both
def test_preload_reads_only_what_a_run_must_share(preload_watch: dict[str, list[str]]) -> None:
    """Importing PRELOAD reads only variables a forked run must have equal to the zygote's (else it is executed)
    or reads later itself; a module that notes the folder or argv is one ``_become`` sets again."""
    seen = preload_watch
    shared = [name for name in seen["env"] if cli_zygote.captured({name: ""}) or name in cli_zygote.READ_LATER]
    assert seen["env"] == shared
    assert set(seen["noted"]) <= cli_zygote.NOTES_AT_IMPORT
    assert "keyring.backends.kwallet" in seen["noted"]  # the watch works: kwallet notes argv[0]


def test_what_modules_noted_at_import_is_a_fresh_runs(tmp_path: Path) -> None:
    """rich's folder and the name KWallet would show (argv[0] when keyring's kwallet module was imported)."""
    (tmp_path / "noted_probe.py").write_text(
        "import json, os, rich, keyring.backends.kwallet as k\n"
        "print(json.dumps([rich._IMPORT_CWD, k.DBusKeyring.appid, os.getppid()]))")
    env = probe_env(tmp_path)
    forked = json.loads(run_module("noted_probe", [], env=env, cwd=tmp_path, input="").stdout)
    fresh = json.loads(real("noted_probe", [], env, tmp_path, input="").stdout)
    assert forked.pop() == forked_pid() != fresh.pop()
    assert forked == fresh == [str(tmp_path), str(tmp_path / "noted_probe.py")]


_IMPORT_LINE = re.compile(r"^[ \t]*import[ \t]+(.+)$", re.MULTILINE)


@functools.cache
def is_module(dotted: str, *, package: bool = False) -> bool:
    """Whether ``dotted`` names a module (with ``package``: a package) here."""
    try:
        spec = importlib.util.find_spec(dotted)
    except (ImportError, ValueError):
        return False
    return spec is not None and (not package or spec.submodule_search_locations is not None)


def submodules_reached_without_import(source: str, package: str | None) -> set[str]:
    """``a.b`` reached as an attribute of a name bound by ``import a`` where this file never imports ``a.b``
    (``package``: the file's package, for relative imports). Only names of real submodules are returned."""
    # Only a name bound to a package can reach a submodule: a file that imports no package that way is skipped
    # unparsed (most import only os, sys, re…).
    named = {part.split()[0] for line in _IMPORT_LINE.findall(source) for part in line.split(",") if part.split()}
    prefixes = {".".join(name.split(".")[:i]) for name in named for i in range(1, name.count(".") + 2)}
    if not any(is_module(name, package=True) for name in prefixes):
        return set()
    bound: dict[str, str] = {}  # local name -> module
    imported: set[str] = set()
    attributes: list[ast.Attribute] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            attributes.append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                imported.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
                bound[alias.asname or parts[0]] = alias.name if alias.asname else parts[0]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package or "") \
                if node.level else node.module or ""
            imported.add(base)
            imported.update(f"{base}.{alias.name}" for alias in node.names)
    reached: set[str] = set()
    for node in attributes:
        chain: list[str] = []
        inner: ast.expr = node
        while isinstance(inner, ast.Attribute):
            chain.insert(0, inner.attr)
            inner = inner.value
        if not isinstance(inner, ast.Name) or inner.id not in bound:
            continue
        dotted = bound[inner.id]
        for attr in chain:
            dotted = f"{dotted}.{attr}"
            if dotted not in imported:
                if is_module(dotted) and is_module(dotted.rpartition(".")[0], package=True):
                    reached.add(dotted)
                break
    return reached


def test_no_submodule_reached_without_its_import() -> None:
    """The zygotes preload more than a given run imports: a module that reaches ``pkg.sub`` through ``import pkg``
    without importing ``pkg.sub`` would work forked and fail in a fresh process, unless ``pkg`` itself imports it."""
    assert submodules_reached_without_import("import logging\nlogging.handlers.RotatingFileHandler", None) \
        == {"logging.handlers"}
    assert not submodules_reached_without_import("import logging.handlers\nlogging.handlers.X", None)
    reached: dict[str, set[str]] = {}
    for folder in ("crystal_manager", "crystal_protocol", "crystal_server"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for dotted in submodules_reached_without_import(path.read_text(encoding="utf-8"), package):
                reached.setdefault(dotted, set()).add(module)
    # Fine where the package imports the submodule itself (os.path, importlib.util in some versions…).
    check = "import importlib, json, sys\nnames = json.loads(sys.argv[1])\nout = {}\n" \
            "for name in names:\n    pkg, _, attr = name.rpartition('.')\n" \
            "    out[name] = hasattr(importlib.import_module(pkg), attr)\nprint(json.dumps(out))"
    missing = {}
    for dotted, users in reached.items():
        fresh = subprocess.run([sys.executable, "-c", check, json.dumps([dotted])], capture_output=True, text=True,
                               timeout=60, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if not json.loads(fresh.stdout)[dotted]:
            missing[dotted] = sorted(users)
    assert missing == {}


# A run on a clock moved by libfaketime, forked from the clock zygote (cli_run._ClockZygote) or executed.
CLOCK_PROBE = """
import datetime, json, os, time
print(json.dumps({"ppid": os.getppid(), "time": time.time(), "now": datetime.datetime.now().timestamp(),
                  "utc": datetime.datetime.now(datetime.UTC).timestamp(), "monotonic": time.monotonic(),
                  "env": dict(os.environ)}))
"""


@pytest.mark.xdist_group("faked-clock")  # one worker's clock zygote serves these and tests/licensing/test_clock_skew.py
@pytest.mark.parametrize(("spec", "seconds"), [("+1d", 86400), ("-10m", -600), ("+2h", 7200)])
def test_faked_clock_forked_and_executed_agree(tmp_path: Path, spec: str, seconds: int) -> None:
    need_libfaketime()
    (tmp_path / "clock_probe.py").write_text(CLOCK_PROBE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), **offset_env(spec)}
    forked = run_module("clock_probe", [], env=env, cwd=tmp_path)
    fresh = real("clock_probe", [], env, tmp_path)
    assert forked.returncode == fresh.returncode == 0, forked.stderr + fresh.stderr
    mine, theirs = json.loads(forked.stdout), json.loads(fresh.stdout)
    assert cli_run._ClockZygote.process is not None
    assert mine["ppid"] == cli_run._ClockZygote.process.pid and theirs["ppid"] == os.getpid()
    for seen in (mine, theirs):
        for key in ("time", "now", "utc"):  # moved by the offset (this process keeps the real clock)
            assert abs(seen[key] - time.time() - seconds) < 30, (key, seen[key] - time.time())
        assert abs(seen["monotonic"] - time.monotonic()) < 30  # FAKETIME_DONT_FAKE_MONOTONIC
        # libfaketime notes its shared memory in the environment (the zygote's library's, in the forked child);
        # not when it could not make it (a semaphore left in /dev/shm under the same pid by an earlier process)
        assert seen["env"].pop("FAKETIME_SHARED", "/faketime_sem_").startswith("/faketime_sem_")
    assert mine["env"] == theirs["env"] == env
    plain = json.loads(run_module("clock_probe", [], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path).stdout)
    assert plain["ppid"] == forked_pid() and abs(plain["time"] - time.time()) < 30  # the real clock there


def test_faked_clock_forked_only_for_an_offset_set_as_offset_env_sets_it(tmp_path: Path) -> None:
    """A start time counts from the zygote's start, and other libfaketime variables are read when it starts."""
    need_libfaketime()
    (tmp_path / "clock_probe.py").write_text(CLOCK_PROBE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), **offset_env("+1d")}
    assert cli_run._ClockZygote.usable(env) and not cli_run._Zygote.usable(env)
    for extra in ({"FAKETIME": "@2030-01-01 00:00:00"}, {"FAKETIME": "+1d x2"}, {"FAKETIME_NO_CACHE": "1"},
                  {"FAKETIME_DONT_FAKE_MONOTONIC": "0"}, {"LD_PRELOAD": "/nonexistent.so"}, {"TZ": "Asia/Kolkata"},
                  {"PYTHONHASHSEED": "7"}, {"FAKERANDOM_SEED": "0x12345678DEADBEEF"}, {"NO_FAKE_STAT": "1"},
                  {"FAKE_UTIME": "1"}, {"DONT_FAKE_MONOTONIC": "1"}):  # libfaketime's names without its prefix
        assert not cli_run._ClockZygote.usable({**env, **extra}), extra
    executed = run_module("clock_probe", [], env={**env, "FAKETIME": "@2030-01-01 00:00:00"}, cwd=tmp_path)
    seen = json.loads(executed.stdout)
    assert seen["ppid"] == os.getpid() and abs(seen["time"] - 1893456000) < 60


@pytest.mark.xdist_group("cli-zygote-preload-watch")
def test_preload_reads_the_clock_only_where_a_faked_run_does_not_mind(preload_watch: dict[str, list[str]]) -> None:
    """Only logging notes the time when imported (``_startTime``, for a record's ``relativeCreated``), which
    the app's log lines do not use: a child of the clock zygote (cli_run._ClockZygote) dates everything it
    does on its own clock. The wall clock read while PRELOAD is imported, watched through the time module."""
    assert preload_watch["clock"] == ["logging"]
    for package in ("crystal_manager", "crystal_protocol"):
        for path in (ROOT / package).rglob("*.py"):
            assert "relativeCreated" not in path.read_text(encoding="utf-8"), path
