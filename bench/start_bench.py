"""Start-up, memory and idle CPU of the Manager's tray vs a bare PySide6 tray app, measured in the same run.

Run under a real X display with a tray host:
    /work/shared/tools/with-xvfb-tray.sh python bench/start_bench.py [--runs 5] [--idle 60]
Prints medians: time from process spawn to tray shown (goal <= 1.25x), RSS after start (goal ≤ +25 MiB),
CPU seconds used during the idle window (goal ≤ 0.05 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "_child.py"
TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def one(kind: str, idle: float, home: str) -> tuple[float, float, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CRYSTAL_MANAGER_HOME": home}
    args = [sys.executable, str(CHILD), kind, str(ROOT / "resources" / "icons" / "app-32.png")]
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    shown = None
    for line in proc.stdout:
        if line.startswith("SHOWN"):
            shown = time.perf_counter() - start
            if "True" not in line:
                print(f"warning: {kind}: no system tray ({line.strip()})", file=sys.stderr)
        if line.startswith("READY"):
            break
    time.sleep(1.0)  # let lazy start-up work settle before measuring memory and idle
    rss = rss_mib(proc.pid)
    cpu0 = cpu_s(proc.pid)
    time.sleep(idle)
    cpu = cpu_s(proc.pid) - cpu0
    proc.terminate()
    proc.wait(10)
    if shown is None:
        raise RuntimeError(f"{kind} never showed")
    return shown, rss, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=60.0, help="idle window in seconds (default 60)")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {"bare": [], "app": []}
    with tempfile.TemporaryDirectory() as home:
        for _ in range(args.runs):  # interleaved so both see the same machine state
            for kind in ("bare", "app"):
                results[kind].append(one(kind, args.idle, home))
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in results.items()}
    (b_show, b_rss, b_cpu), (a_show, a_rss, a_cpu) = med["bare"], med["app"]
    print(f"runs: {args.runs}, idle window: {args.idle:.0f} s (medians)")
    print(f"start to tray shown: bare {b_show * 1000:.0f} ms, manager {a_show * 1000:.0f} ms, "
          f"ratio {a_show / b_show:.2f}x (goal <= 1.25x)")
    print(f"RSS after start:     bare {b_rss:.1f} MiB, manager {a_rss:.1f} MiB, "
          f"delta {a_rss - b_rss:+.1f} MiB (goal <= +25 MiB)")
    print(f"CPU in idle window:  bare {b_cpu:.3f} s, manager {a_cpu:.3f} s (goal <= 0.05 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
