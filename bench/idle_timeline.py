"""Where idle CPU goes: the Manager's CPU time per second (all threads, from /proc schedstat, ns
resolution) for N seconds after start-up, in both scenarios of start_bench.py. A tray app that is
really idle shows zeros with a small blip at each tray poll (every 10 s).

Run under a real X display with a tray host:
    PYTHONPATH=$PWD tools/with-xvfb-tray.sh .venv/bin/python bench/idle_timeline.py [--seconds 40]
Negative entries are threads that ended (the background helper's idle threads exit after 30 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from start_bench import CHILD, ROOT, everyday_home, run_cli


def cpu_ns(pid: int) -> int:
    """CPU time of every live thread of ``pid``, in nanoseconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while we looked
    return total


def timeline(env_extra: dict[str, str], seconds: int) -> list[float]:
    """Milliseconds of CPU in each second after the app reports READY."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    proc = subprocess.Popen([sys.executable, str(CHILD), "app", "-"], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY"):
            break
    per_second = []
    last = cpu_ns(proc.pid)
    for _ in range(seconds):
        time.sleep(1.0)
        now = cpu_ns(proc.pid)
        per_second.append((now - last) / 1e6)
        last = now
    proc.terminate()
    proc.wait(10)
    return per_second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=40)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from crystal_manager.cli.demo_server import start_server

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_cli("crystal_server", "init", str(root / "server"))
        server = start_server(root / "server")
        try:
            scenarios = {"first run": {"CRYSTAL_MANAGER_HOME": str(root / "first")},
                         "everyday start": everyday_home(root, server.url, server.profile_file)}
            for name, env in scenarios.items():
                ms = timeline(env, args.seconds)
                print(f"{name}: {sum(m for m in ms if m > 0):.1f} ms of CPU in {args.seconds} s after start-up")
                print("  per second (ms): " + " ".join(f"{m:.1f}" for m in ms))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
