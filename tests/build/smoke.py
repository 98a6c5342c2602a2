"""Smoke checks shared by the wheel and bundle tests: run an installed ``crystal-manager`` the way a user
does (outside the source tree, no PYTHONPATH, its own app folder) and check what it says."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from crystal_manager.gui import ipc
from crystal_manager.storage.paths import resolve_paths

ROOT = Path(__file__).resolve().parents[2]
#: What a copy of the source tree for a build leaves out (local state, caches, earlier builds).
COPY_IGNORE = (".git", ".venv", ".setuptools-build", "dist", "pyinstaller-work", "test-output", "__pycache__",
               "*.egg-info", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", ".helpers", "bench")


def user_env(home: Path, *, display: bool = True) -> dict[str, str]:
    """A user's environment: nothing from the source tree or the tests, a fresh app folder, the keyring's
    file fallback (never this machine's keyring); offscreen Qt, or no display at all."""
    drop = {"PYTHONPATH", "CRYSTAL_MANAGER_PROFILE", "CRYSTAL_MANAGER_SERVER", "DISPLAY", "WAYLAND_DISPLAY",
            "QT_QPA_PLATFORM", "VIRTUAL_ENV", "PYTHONHOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(CRYSTAL_MANAGER_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    if display:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def run(exe: Path, *args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed command to its end."""
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)


def check_version(exe: Path, env: dict[str, str], cwd: Path, version: str) -> None:
    out = run(exe, "--version", env=env, cwd=cwd)
    assert (out.returncode, out.stdout.strip()) == (0, f"crystal-manager {version}"), out.stderr


def check_status(exe: Path, env: dict[str, str], cwd: Path, resources_under: Path) -> dict[str, object]:
    """``status --json`` on a fresh app folder: not activated, the built-in production profile read from
    the installed package's resources."""
    out = run(exe, "status", "--json", env=env, cwd=cwd)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["license"]["state"] == "not_activated"
    profile = status["profile"]
    assert profile["name"] == "production" and profile["production"] is True
    source = Path(profile["source"])
    assert source.is_file() and source.is_relative_to(resources_under), source
    assert source.parts[-4:] == ("crystal_manager", "resources", "trust", "production.json")
    return dict(status)


def check_no_display(exe: Path, home: Path, cwd: Path) -> None:
    """No display: one clear line and exit code 2, never Qt's abort (134)."""
    out = run(exe, env=user_env(home, display=False), cwd=cwd)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stderr.strip().splitlines() == [
        "crystal-manager: found no screen to show its window on; start it from your desktop, or use the "
        "command line, e.g. `crystal-manager status`"]


def check_gui_starts_and_quits(exe: Path, home: Path, cwd: Path, timeout: float = 60) -> str:
    """Start the GUI offscreen with no arguments (the fast path), wait until it answers on its
    single-instance name, ask it to quit as ``--replace`` does, and expect a clean exit. Returns stderr."""
    env = user_env(home)
    name = ipc.server_name(resolve_paths(env))
    proc = subprocess.Popen([str(exe)], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + timeout
        while not ipc.is_listening(name):  # a separate process: poll its socket (no event loop here)
            assert proc.poll() is None, f"the GUI exited early ({proc.returncode}): {proc.communicate()[1]}"
            assert time.monotonic() < deadline, "the GUI never listened on its single-instance name"
            time.sleep(0.1)
        assert ipc.ask_to_quit(name), "the GUI did not quit when asked"
        _out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "could not start" not in err and "Traceback" not in err, err
    return err


def check_privacy_catalog(exe: Path, env: dict[str, str], cwd: Path) -> None:
    """``privacy catalog --json``: the data catalog, from the installed modules (skipped until the verb lands)."""
    import pytest

    out = run(exe, "privacy", "catalog", "--json", env=env, cwd=cwd)
    if out.returncode == 2 and "invalid choice: 'privacy'" in out.stderr:
        pytest.skip("the privacy verb is not in this tree yet")
    assert out.returncode == 0, out.stderr
    catalog = json.loads(out.stdout)
    assert isinstance(catalog, dict) and catalog.get("requests"), sorted(catalog)
