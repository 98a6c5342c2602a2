"""The CLI runner (tests/support/cli_run.py): a forked child is the process a real ``python -m`` would be.

The probe module reports what its process was started with; run through the zygote and as a real process
with the same request the reports agree (except who the parent is). The app's own verbs give the same
output and exit status both ways.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import cli_run, cli_zygote
from tests.support.cli_run import run_cli, run_module

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
                  {"PYTHONHASHSEED": "7"}, {"LC_ALL": "C.UTF-8"}, {"TZ": "Pacific/Auckland"}):
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
