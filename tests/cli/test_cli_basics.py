"""The CLI as a user runs it: a real process, an empty CRYSTAL_MANAGER_HOME, nothing written elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from crystal_manager.privacy.ledger import Ledger
from tests.support import cli_run
from tests.support.servers import ReferenceServer


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``crystal-manager ARGS`` as its own process (tests/support/cli_run.py; test_privacy_cli uses it too)."""
    return cli_run.run_cli(args, env=env)


def isolated_env(tmp_path: Path) -> dict[str, str]:
    fake_home = tmp_path / "user-home"
    fake_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRYSTAL_MANAGER_", "XDG_"))}
    env.update(HOME=str(fake_home), CRYSTAL_MANAGER_HOME=str(tmp_path / "app"), PYTHONDONTWRITEBYTECODE="1")
    (tmp_path / "app").mkdir()
    return env


def test_version(tmp_path: Path) -> None:
    proc = run_cli("--version", env=isolated_env(tmp_path))
    assert proc.returncode == 0 and proc.stdout.strip() == "crystal-manager 0.1.0"


def test_status_json_in_empty_home_writes_nothing_outside(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    proc = run_cli("status", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["license"]["state"] == "not_activated"
    assert report["manager_version"] == "0.1.0" and report["product_version"] is None
    assert report["profile"]["name"] == "production" and report["profile"]["production"] is True
    assert list((tmp_path / "user-home").iterdir()) == []


def test_status_with_dev_profile_and_server_check(reference_server: ReferenceServer, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    proc = run_cli("--profile", str(reference_server.profile_file), "--server", reference_server.url,
                   "status", "--check-server", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["profile"]["production"] is False and report["server"]["status"] == "ok"
    ledger = Ledger(tmp_path / "app" / "data" / "ledger.jsonl").entries()
    assert ledger[-1]["kind"] == "health" and ledger[-1]["state"] == "done"
    assert list((tmp_path / "user-home").iterdir()) == []


def test_text_status_says_profile_is_not_production(reference_server: ReferenceServer, tmp_path: Path) -> None:
    proc = run_cli("--profile", str(reference_server.profile_file), "status", env=isolated_env(tmp_path))
    # plain words: whose server it is, no "profile"/"production" (finding 13)
    assert "Server: a test server (not the vendor's)" in proc.stdout, proc.stdout
    assert "production" not in proc.stdout.lower() and "Profile:" not in proc.stdout


def test_bad_profile_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run_cli("--profile", str(tmp_path / "nope.json"), "status", env=isolated_env(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "profile file not found" in proc.stderr


def test_server_down_is_offline_exit_4(tmp_path: Path) -> None:
    from crystal_manager.cli.demo_server import free_port

    env = isolated_env(tmp_path)
    proc = run_cli("--server", f"http://127.0.0.1:{free_port()}", "status", "--check-server", env=env)
    assert proc.returncode == 4
    assert "cannot be reached" in proc.stderr and proc.stderr.strip().count("\n") == 0
    # The local facts first (they hold without the server), then the server problem.
    assert proc.stdout.startswith("CrystalMe3D Pro Manager 0.1.0") and "License: Not activated" in proc.stdout
    as_json = run_cli("--server", f"http://127.0.0.1:{free_port()}", "status", "--check-server", "--json", env=env)
    assert as_json.returncode == 4
    report = json.loads(as_json.stdout)
    assert report["license"]["state"] == "not_activated" and report["server"]["status"] == "unreachable"


def test_text_status_speaks_plainly(tmp_path: Path) -> None:
    proc = run_cli("status", env=isolated_env(tmp_path))
    assert "License: Not activated" in proc.stdout and "not_activated" not in proc.stdout


def test_insecure_server_url_is_bad_input(tmp_path: Path) -> None:
    proc = run_cli("--server", "http://licensing.example.com", "status", "--check-server",
                   env=isolated_env(tmp_path))
    assert proc.returncode == 2 and "https is required" in proc.stderr


def test_unknown_verb_is_usage_error(tmp_path: Path) -> None:
    proc = run_cli("frobnicate", env=isolated_env(tmp_path))
    assert proc.returncode == 2


def test_gui_without_display_says_so(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    proc = run_cli(env=env)
    assert proc.returncode != 0 and "found no screen to show its window on" in proc.stderr


@pytest.fixture(scope="module")
def headless_demo(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One ``crystal-manager demo --headless`` as a newcomer runs it on a bare terminal (no session bus, no
    keyring backend named): the two tests below read the same run (each run is a server, a keyring and
    twelve CLI steps)."""
    env = isolated_env(tmp_path_factory.mktemp("demo"))
    for name in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND"):
        env.pop(name, None)
    return run_cli("demo", "--headless", env=env)


@pytest.mark.xdist_group("headless-demo")  # one worker runs the module's demo once for both
def test_demo_headless_walks_through(headless_demo: subprocess.CompletedProcess[str]) -> None:
    proc = headless_demo
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Reference server running at http://127.0.0.1:" in proc.stdout
    assert "Server reachable: yes" in proc.stdout and "protocol" not in proc.stdout
    assert proc.stdout.splitlines()[0].startswith("Demo license key (for Activate…): CM3D-")  # the key first


@pytest.mark.xdist_group("headless-demo")
def test_demo_keeps_the_key_in_a_real_keyring_and_says_so(headless_demo: subprocess.CompletedProcess[str]) -> None:
    import shutil

    if shutil.which("gnome-keyring-daemon") is None or shutil.which("dbus-daemon") is None:
        pytest.skip("./dev installs gnome-keyring and dbus; this machine has neither")
    proc = headless_demo
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "The license key will be kept in a GNOME Keyring the demo started for itself" in proc.stdout
    activated = proc.stdout.split("$ crystal-manager activate")[1].split("-> exit")[0]
    assert "License key kept in the desktop's keyring" in activated and "no system keyring" not in proc.stdout


STEP_PROBE = """
import json, subprocess, sys
from crystal_manager.cli.demo_steps import can_fork, run_step
env = json.loads(sys.argv[1])
runs = []
for args in (["status", "--json"], ["frobnicate"], ["--version"]):
    forked = run_step(args, env)
    fresh = subprocess.run([sys.executable, "-m", "crystal_manager", *args], env=env, capture_output=True, text=True)
    runs.append([args, [forked.returncode, forked.stdout, forked.stderr],
                 [fresh.returncode, fresh.stdout, fresh.stderr]])
print(json.dumps({"forked": can_fork(env), "runs": runs}))
"""


def test_demo_steps_forked_are_the_cli_as_a_fresh_process_gives_it(tmp_path: Path) -> None:
    """The headless demo forks its steps (crystal_manager/cli/demo_steps.py): exit code, output and error
    equal a fresh ``python -m crystal_manager`` run's, for a verb, a usage error and --version."""
    import sys

    env = isolated_env(tmp_path)
    proc = subprocess.run([sys.executable, "-c", STEP_PROBE, json.dumps(env)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["forked"] is True  # this process has one thread and the same start-up environment
    for args, forked, fresh in report["runs"]:
        assert forked == fresh, args
    assert [run[1][0] for run in report["runs"]] == [0, 2, 0]
