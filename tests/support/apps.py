"""Tear-down shared by the GUI fixtures that build TrayApp instances."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def dispose_apps(made: Iterable[Any]) -> None:
    """Close each app's window (for real, not hide) and hide its tray icon."""
    for app in made:
        if app.has_window():
            window = app.window()
            window.hide_on_close = True
            window.close()
            window.deleteLater()
        if app.tray is not None:
            app.tray.hide()
        # The app goes too: its timers (the daily update check) must not wake up during later tests and fill
        # the worker pool, and late background results must not reach its deleted window.
        app.deleteLater()


ROOT = Path(__file__).resolve().parents[2]


def gui_child_env(**extra: str) -> dict[str, str]:
    """The environment of a GUI child process: offscreen Qt, this source tree, a keyring that stores nothing."""
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra}


def run_gui_script(script: str, *args: str, home: Path | None = None) -> dict[str, Any]:
    """Run ``python -c script args`` as a GUI child; its last line of output is JSON, returned parsed.

    ``home``: its ``CRYSTAL_MANAGER_HOME``, with no profile or server override (as the ``app_home`` fixture
    gives this process, for a fixture that cannot use it)."""
    env = gui_child_env()
    if home is not None:
        env["CRYSTAL_MANAGER_HOME"] = str(home)
        env.pop("CRYSTAL_MANAGER_PROFILE", None)
        env.pop("CRYSTAL_MANAGER_SERVER", None)
    # -X faulthandler: a crash (a signal) leaves the Python stacks of every thread in the failure.
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script, *args], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"exit {out.returncode}:\n{out.stderr[-6000:]}"
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["_stderr"] = out.stderr
    return result


def fork_gui_scripts(script: str, count: int, at_once: int, preload: Sequence[str]) -> list[tuple[int, str]]:
    """Run ``python -X faulthandler -c script`` ``count`` times, ``at_once`` at a time; each run's exit code
    (``-N`` for signal N) and the end of its error output.

    Each run is a child forked from one GUI child process (``gui_child_env``) that imported ``preload`` (Qt's
    modules: ~0.2 s of CPU a fresh interpreter spends before the script starts) and nothing else of Qt: no
    QApplication, no thread. The child runs the script as ``-c`` does (in ``__main__``, ``sys.argv == ['-c']``,
    standard output to /dev/null) and ends through the interpreter's own exit: atexit hooks, module
    tear-down, PySide's clean-up, faulthandler's report of a crash on its standard error.
    """
    spec = json.dumps({"script": script, "count": count, "at_once": at_once, "preload": list(preload)})
    out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", _FORKER, spec], env=gui_child_env(),
                         capture_output=True, text=True, timeout=60 + 30 * count, check=False)
    assert out.returncode == 0, f"the forking process failed: exit {out.returncode}\n{out.stderr[-4000:]}"
    return [(int(code), str(err)) for code, err in json.loads(out.stdout.strip().splitlines()[-1])]


#: The forking process's ``-c`` code: a child returns from ``_fork_runs`` here and ends as its ``-c`` would.
_FORKER = "from tests.support.apps import _fork_runs\n_fork_runs()\n"


def _fork_runs() -> bool:
    """In the forking process: True in a child, once its script has run (the ``-c`` code then ends there)."""
    import importlib

    spec = json.loads(sys.argv[1])
    for name in spec["preload"]:
        importlib.import_module(name)
    code = compile(spec["script"], "<string>", "exec")
    results: list[tuple[int, str]] = []
    left = int(spec["count"])
    while left:
        batch: list[tuple[int, int]] = []
        for _ in range(min(left, int(spec["at_once"]))):
            read_end, write_end = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                null = os.open(os.devnull, os.O_RDWR)
                for target, fd in ((0, null), (1, null), (2, write_end)):
                    os.dup2(fd, target)
                os.close(null)
                os.close(write_end)
                sys.argv[:] = ["-c"]
                exec(code, sys.modules["__main__"].__dict__)  # the test's own script, in __main__ as ``-c`` runs it
                return True
            os.close(write_end)
            batch.append((pid, read_end))
        left -= len(batch)
        for pid, read_end in batch:
            with os.fdopen(read_end, "rb") as stream:
                err = stream.read().decode(errors="replace")
            _, status = os.waitpid(pid, 0)
            results.append((os.waitstatus_to_exitcode(status), err[-4000:]))
    print(json.dumps(results), flush=True)
    return False
