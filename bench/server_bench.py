"""P8: signed license validations per second of the reference server, at a bounded load, with p99 latency.

The real ``crystal-server serve`` (one process, as shipped) answers ``POST /v1/licenses/validate`` for 64
activated machines in turn, each on its own license (so that nothing is remembered from the same license's
last request): each answer is a database transaction (the machine's last-seen time, an event row) and two
Ed25519 signatures (the lease and the response). The load comes from a second process on loopback
(``bench/_load.py``): C connections, each sending its next request as soon as the answer is in (closed loop:
the load is bounded by C), for a few seconds per level. Goal: >= 1,000 validations/s with p99 <= 50 ms.

    .venv/bin/python bench/server_bench.py [--seconds 3] [--levels 1,4,16,32] [--runs 3] [--profile]

Each level is run ``--runs`` times (the levels interleaved); the table gives the median and the best run, the
server's and the load process's CPU per validation, and the machine's load average, since other work on the
same cores moves every figure. ``--profile`` runs the server under cProfile at the highest level and prints
where its time goes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Report, add_arguments  # noqa: E402

from crystal_manager.cli.demo_server import RunningServer, start_server  # noqa: E402
from crystal_protocol.wire import LICENSE_PATHS  # noqa: E402

GOAL_RATE = 1000.0
GOAL_P99_MS = 50.0


def claim(key: str) -> dict[str, str]:
    """An activation body as the protocol defines it (crystal_protocol.messages.ActivateRequest); validation
    takes the same members (its message drops the label)."""
    return {"key": key, "fingerprint": "v1:" + secrets.token_hex(32), "fingerprint_version": "v1",
            "environment": "physical", "os": "Linux", "label": "Bench machine"}


def prepare(folder: Path, machines: int = 1) -> tuple[Path, list[dict[str, str]]]:
    """A server folder with ``machines`` licenses and one machine's body for each (activated by ``activate``).
    The folder and licenses are made by the real admin CLI, in this process (a fresh interpreter each would
    take minutes)."""
    server_dir = folder / "server"
    from crystal_server.cli import main as admin

    with redirect_stdout(io.StringIO()):
        if admin(["init", str(server_dir)]) != 0:
            raise RuntimeError(f"crystal-server init {server_dir} failed")
    bodies = []
    for number in range(machines):
        out = io.StringIO()
        with redirect_stdout(out):
            admin(["license", "create", str(server_dir), "--plan", "pro", "--seats", "2", "--expires",
                   f"2099-01-{1 + number % 28:02d}"])
        bodies.append(claim(dict(line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line)["key"]))
    return server_dir, bodies


#: ``--what-if``: the same server with SQLite's commits not waiting for the disk (synchronous=NORMAL in WAL
#: mode: a power cut may lose the last commits, never corrupts). Measured only, to show what limits P8.
SYNC_NORMAL = """
import sqlite3, sys
from crystal_server import store
plain = store.connect
def connect(data_dir):
    conn = plain(data_dir)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn
store.connect = connect
from crystal_server.cli import main
sys.exit(main(sys.argv[1:]))
"""


def serve(server_dir: Path, profile: Path | None, *, sync_normal: bool = False) -> RunningServer:
    """The server as a child process (under cProfile, or with synchronous=NORMAL, when asked)."""
    if profile is None and not sync_normal:
        return start_server(server_dir)
    # The same start-up handshake as start_server: it prints "listening on URL" once bound.
    if sync_normal:
        args = [sys.executable, "-c", SYNC_NORMAL, "serve", str(server_dir), "--port", "0"]
    else:
        args = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "crystal_server", "serve",
                str(server_dir), "--port", "0"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    process.stdout.close()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"server did not start under cProfile: {line!r}")
    return RunningServer(data_dir=server_dir, url=line.removeprefix("listening on "), process=process)


def activate(url: str, bodies: list[dict[str, str]]) -> None:
    """Activate each machine once (validations are for activated machines)."""
    for body in bodies:
        request = urllib.request.Request(url + LICENSE_PATHS["activate"], data=json.dumps(body).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            if answer.status != 200:
                raise RuntimeError(f"activation failed: HTTP {answer.status}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server: RunningServer, body: list[dict[str, str]], connections: int, seconds: float,
             processes: int = 1) -> dict[str, Any]:
    """One level of load, the server's own CPU per validation (less sensitive to other load than rates) and
    the machine's load average (1 minute) when it ended: other work on the 2 cores moves every figure."""
    before = cpu_seconds(server.process.pid)
    result = load(server.url, body, connections, seconds, processes)
    result["server_cpu_ms"] = (cpu_seconds(server.process.pid) - before) * 1000 / max(1.0, result["count"])
    result["load_average"] = os.getloadavg()[0]
    return result


def load(url: str, body: list[dict[str, str]], connections: int, seconds: float, processes: int = 1) -> dict[str, Any]:
    """One level of load from ``processes`` other processes sharing the connections; the merged summary."""
    script = str(Path(__file__).resolve().parent / "_load.py")
    shares = [connections // processes + (1 if n < connections % processes else 0) for n in range(processes)]
    running = [subprocess.Popen([sys.executable, script, url, LICENSE_PATHS["validate"], json.dumps(body), str(share),
                                 str(seconds), str(n)], stdout=subprocess.PIPE, text=True)
               for n, share in enumerate(shares) if share]
    parts = [json.loads(child.communicate(timeout=seconds + 60)[0]) for child in running]
    latencies = sorted(value for part in parts for value in part["latencies"])
    errors = sum(int(part["errors"]) for part in parts)
    if errors or not latencies:
        first = next((part["first_error"] for part in parts if part["first_error"]), "no answer")
        raise RuntimeError(f"{errors} validations failed, first: {first}")
    count = len(latencies)
    p99 = latencies[min(count - 1, int(count * 0.99))]
    return {"rate": count / max(part["took"] for part in parts), "count": float(count),
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": p99 * 1000,
            "client_cpu_ms": sum(part["cpu"] for part in parts) * 1000 / count, "errors": 0.0}


def group_size(log: Path) -> float | None:
    """Requests per commit over the server's run, from the line it writes when it stops."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if " licensing requests in " in line:
            words = line.split()
            requests, commits = int(words[1]), int(words[5])
            return requests / commits if commits else None
    return None


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    """One level over several runs: the median of each figure, and the best run's rate with its p99."""
    best = max(runs, key=lambda r: r["rate"] if r["p99_ms"] <= GOAL_P99_MS else -1.0)
    figures = ("rate", "p50_ms", "p99_ms", "server_cpu_ms", "client_cpu_ms", "load_average")
    return {**{name: statistics.median(r[name] for r in runs) for name in figures},
            "best_rate": best["rate"], "best_p99_ms": best["p99_ms"],
            "load_low": min(r["load_average"] for r in runs), "load_high": max(r["load_average"] for r in runs)}


def print_table(title: str, levels: list[tuple[int, dict[str, float]]]) -> None:
    print(title)
    print("  connections  rate/s median (best)   p50 ms   p99 ms (best run's)   server / client CPU ms   load")
    for level, r in levels:
        print(f"  {level:11d} {r['rate']:8.0f} ({r['best_rate']:5.0f}) {r['p50_ms']:12.2f} {r['p99_ms']:8.2f} "
              f"({r['best_p99_ms']:6.2f}) {r['server_cpu_ms']:14.2f} / {r['client_cpu_ms']:.2f}"
              f"   {r['load_low']:.1f}-{r['load_high']:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="load per level and run (default 3 s)")
    parser.add_argument("--levels", default="1,4,16,32", help="connections per level (default 1,4,16,32)")
    parser.add_argument("--runs", type=int, default=3, help="runs over all levels, interleaved (default 3)")
    parser.add_argument("--load-processes", type=int, default=1, metavar="P",
                        help="load processes sharing the connections (default 1)")
    parser.add_argument("--machines", type=int, default=64,
                        help="machines validating, each on its own license, in turn (default 64)")
    parser.add_argument("--profile", action="store_true", help="profile the server at the highest level")
    parser.add_argument("--what-if", action="store_true",
                        help="also each level with SQLite commits not waiting for the disk (not what ships)")
    add_arguments(parser)
    args = parser.parse_args()
    seconds = 0.25 if args.smoke else args.seconds  # smoke: a few dozen validations, enough to run the path
    levels = [2] if args.smoke else [int(n) for n in args.levels.split(",")]
    runs = 1 if args.smoke else args.runs
    report = Report("P8", "License validations per second (reference server, loopback)", smoke=args.smoke)
    measured_runs: dict[int, list[dict[str, Any]]] = {level: [] for level in levels}
    with tempfile.TemporaryDirectory() as tmp:
        server_dir, body = prepare(Path(tmp), 2 if args.smoke else args.machines)
        server = start_server(server_dir)
        try:
            activate(server.url, body)
            for _run in range(runs):
                for level in levels:
                    measured_runs[level].append(measured(server, body, level, seconds, args.load_processes))
        finally:
            server.stop()
        group = group_size(server_dir / "server.log")
        what_if: list[tuple[int, dict[str, float]]] = []
        if args.what_if and not args.smoke:
            relaxed = serve(server_dir, None, sync_normal=True)
            try:
                what_if = [(level, summary([measured(relaxed, body, level, seconds, args.load_processes)]))
                           for level in levels]
            finally:
                relaxed.stop()
        if args.profile and not args.smoke:
            stats_file = Path(tmp) / "server.prof"
            profiled = serve(server_dir, stats_file)
            try:
                under = load(profiled.url, body, levels[-1], seconds, args.load_processes)
            finally:
                profiled.process.send_signal(signal.SIGINT)  # uvicorn shuts down; cProfile writes its file
                profiled.process.wait(30)
            print(f"under cProfile: {under['rate']:.0f}/s")
            stats = pstats.Stats(str(stats_file))
            stats.sort_stats("tottime").print_stats(15)
            stats.sort_stats("cumulative").print_stats("crystal_server|starlette|httptools_impl|sqlite|sign", 25)
    results = [(level, summary(measured_runs[level])) for level in levels]
    print_table(f"P8: signed validations, {runs} run(s) of {seconds:g} s per level, closed loop from "
                f"{args.load_processes} other process(es)", results)
    if group is not None:
        print(f"  requests per commit (group commit), over all runs: {group:.2f}")
    if what_if:
        print_table("  what if commits did not wait for the disk (synchronous=NORMAL; not what ships):", what_if)
    for level, r in results:
        name = f"{level} connection{'s' if level > 1 else ''}"
        report.add(f"{name}: rate (median of {runs})", r["rate"], "/s")
        report.add(f"{name}: p99 (median of {runs})", r["p99_ms"], "ms")
    top = results[-1][1]
    report.add(f"server CPU per validation ({levels[-1]} connections)", top["server_cpu_ms"], "ms")
    report.add(f"load process CPU per validation ({levels[-1]} connections)", top["client_cpu_ms"], "ms")
    if group is not None:
        report.add("validations per commit (group commit)", group, "")
    report.add("load average (1 min) during the runs", max(r["load_high"] for _level, r in results), "")
    goal = f">= {GOAL_RATE:,.0f}/s at p99 <= {GOAL_P99_MS:.0f} ms"
    within = [r for _level, r in results if r["p99_ms"] <= GOAL_P99_MS]
    best = max((r["rate"] for r in within), default=0.0)
    report.add(f"best rate with p99 within the goal (median of {runs})", best, "/s", goal=goal, met=best >= GOAL_RATE)
    single = max((r["best_rate"] for _level, r in results if r["best_p99_ms"] <= GOAL_P99_MS), default=0.0)
    report.add("best single run with p99 within the goal", single, "/s")
    for level, r in what_if:
        report.add(f"what if commits did not wait for the disk, {level} connections: rate (p99 {r['p99_ms']:.0f} ms)",
                   r["rate"], "/s")
    report.notes.append(f"{os.cpu_count()} cores shared by the server, the load process(es), the bench and "
                        "whatever else runs; the load average says how much else")
    report.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
