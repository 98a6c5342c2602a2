"""Attacks on the headless demo's forked steps (crystal_manager/cli/demo_steps.py).

Each probe runs in a fresh interpreter of its own: a pytest-xdist worker has threads, so ``can_fork`` is
false there and the fork path would never be taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: The demo is interrupted (SIGALRM raising KeyboardInterrupt, as Ctrl-C or ``kill -INT`` on the demo
#: alone would) while a forked step waits for a key on standard input: the step must not outlive it.
INTERRUPTED_PROBE = """
import json, os, signal, subprocess, sys
from crystal_manager.cli.demo_steps import can_fork, preload, run_step
env = json.loads(sys.argv[1])
forked = can_fork(env)
preload()  # the alarm then falls while the step runs, not before its fork
if sys.argv[2] == "interrupt":
    signal.signal(signal.SIGALRM, signal.default_int_handler)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
try:
    run_step(["activate", "-"], env, timeout=60 if sys.argv[2] == "interrupt" else 1.0)
    left = "not interrupted"
except (KeyboardInterrupt, subprocess.TimeoutExpired):
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)
        left = "running" if pid == 0 else "zombie"
    except ChildProcessError:
        left = "reaped"
print(json.dumps({"forked": forked, "left": left}), flush=True)
"""

#: A thread the ``threading`` module does not know (started with ``_thread``, as a C library's own thread
#: would be): forking now would copy one thread of two, with whatever locks the other held.
THREAD_PROBE = """
import _thread, json, os, sys
from crystal_manager.cli.demo_steps import can_fork
started, hold = _thread.allocate_lock(), _thread.allocate_lock()
started.acquire(); hold.acquire()
def wait():
    started.release()
    hold.acquire()
_thread.start_new_thread(wait, ())
started.acquire()
print(json.dumps({"can_fork": can_fork(dict(os.environ)), "threads": len(os.listdir("/proc/self/task"))}))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRYSTAL_MANAGER_", "XDG_"))}
    (tmp_path / "app").mkdir()
    (tmp_path / "user-home").mkdir()
    env.update(HOME=str(tmp_path / "user-home"), CRYSTAL_MANAGER_HOME=str(tmp_path / "app"))
    return env


@pytest.mark.parametrize("how", ["interrupt", "timeout"])
def test_a_forked_step_is_killed_and_reaped_when_the_demo_is_interrupted(tmp_path: Path, how: str) -> None:
    """``subprocess.run`` kills and waits for its child on any exception (KeyboardInterrupt too); a forked
    step must not be left running (writing into a demo folder being deleted) or as a zombie."""
    env = _env(tmp_path)
    # The probe's stdin stays open and empty while it runs: the step's ``activate -`` waits on it. Closed
    # afterwards, it ends a step left running (its read sees the end).
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.run([sys.executable, "-c", INTERRUPTED_PROBE, json.dumps(env), how], env=env,
                              stdin=read_end, capture_output=True, text=True, timeout=90, check=False)
    finally:
        os.close(read_end)
        os.close(write_end)
    out, err = proc.stdout, proc.stderr
    report = json.loads(out.splitlines()[-1]) if out.strip() else {}
    assert report.get("forked") is True, err  # the probe took the fork path
    assert report["left"] == "reaped", report


def test_can_fork_counts_threads_the_threading_module_does_not_know() -> None:
    proc = subprocess.run([sys.executable, "-c", THREAD_PROBE], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["threads"] == 2  # the probe really has a second thread
    assert report["can_fork"] is False
