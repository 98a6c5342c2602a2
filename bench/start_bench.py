"""Start-up, memory and idle CPU of the Manager's tray vs a bare PySide6 tray app, measured in the same run.

Run under a real X display with a tray host:
    tools/with-xvfb-tray.sh python bench/start_bench.py [--runs 5] [--idle 60]
Prints medians: time from process spawn to tray shown (goal <= 1.25x), RSS after start (goal ≤ +25 MiB),
CPU seconds used during the idle window (goal ≤ 0.05 s), for two scenarios against the same bare app:

- first run: a fresh home per run (no settings, not activated): the welcome dialog shows;
- everyday start: a home where the welcome was done and the machine is activated against a real reference
  server (started here; its lease is verified at start, which loads cryptography; no check is due yet, so
  nothing is sent). The key lives in the user-only file fallback (PYTHON_KEYRING_BACKEND=fail), never in
  this machine's real keyring.

``--commands`` (P1, issue 13) instead spawns each command a user or the OS actually runs, unmodified, and
times spawn to tray icon embedded from outside (bench/tray_watch.py: the tray host reparents the icon),
against the bare tray app spawned the same way, interleaved, a fresh app folder per start:
``crystal-manager`` (also the .desktop file's Exec), ``crystal-manager-gui``, ``python -m crystal_manager.gui``
(autostart from a pip install), ``python -m crystal_manager``; with ``--bundle dist/crystal-manager`` and
``--bare-bundle dist/bare-tray`` (both from build/package.sh) the frozen Manager against a frozen bare tray app.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "_child.py"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Report, add_arguments  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


Result = tuple[float, float, float]  # seconds to tray shown, RSS MiB, idle CPU seconds


def one(kind: str, idle: float, env_extra: dict[str, str], expect: str = "") -> Result:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    args = [sys.executable, str(CHILD), kind, str(ROOT / "crystal_manager" / "resources" / "icons" / "app-32.png")]
    # The child stamps SHOWN with the system-wide monotonic clock: when the bench reads the line does not
    # count (on 2 cores it may wait while the child, Xvfb and the tray host are busy).
    start = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    shown, state = None, [""]
    for line in proc.stdout:
        if line.startswith("SHOWN"):
            shown = float(line.split()[2]) - start
            if "True" not in line:
                print(f"warning: {kind}: no system tray ({line.strip()})", file=sys.stderr)
        if line.startswith("READY"):
            state = line.split()[1:]
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
    if kind == "app" and state[:1] != [expect]:
        raise RuntimeError(f"the manager started in license state {state}, expected {expect}")
    return shown, rss, cpu


def run_cli(module: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def everyday_home(root: Path, url: str, profile_file: Path) -> dict[str, str]:
    """Activate a fresh home against the running server and mark the welcome done; return the env."""
    out = run_cli("crystal_server", "license", "create", str(root / "server"), "--plan", "pro", "--seats", "2",
                  "--expires", "2099-01-01")
    key = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)["key"]
    env = {"CRYSTAL_MANAGER_HOME": str(root / "everyday"), "CRYSTAL_MANAGER_PROFILE": str(profile_file),
           "CRYSTAL_MANAGER_SERVER": url, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    run_cli("crystal_manager", "activate", key, env=env)
    run_cli("crystal_manager", "status", env=env)  # the state the app will read (fails if not activated)
    settings = Path(env["CRYSTAL_MANAGER_HOME"]) / "config" / "settings.json"
    data = json.loads(settings.read_text()) if settings.exists() else {}
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({**data, "welcome_done": True}))
    return env


def report(name: str, bare: list[Result], app: list[Result]) -> None:
    (b_show, b_rss, b_cpu), (a_show, a_rss, a_cpu) = (
        [statistics.median(x[i] for x in v) for i in range(3)] for v in (bare, app))
    print(f"{name}")
    print(f"  start to tray shown: bare {b_show * 1000:.0f} ms, manager {a_show * 1000:.0f} ms, "
          f"ratio {a_show / b_show:.2f}x (goal <= 1.25x)")
    print(f"  RSS after start:     bare {b_rss:.1f} MiB, manager {a_rss:.1f} MiB, "
          f"delta {a_rss - b_rss:+.1f} MiB (goal <= +25 MiB)")
    print(f"  CPU in idle window:  bare {b_cpu:.3f} s, manager {a_cpu:.3f} s (goal <= 0.05 s)")


def start_commands(bundle: Path | None, bare_bundle: Path | None) -> dict[str, list[str]]:
    """Each command measured by ``--commands``, by name; ``bare`` first (the baseline)."""
    bindir = Path(sys.executable).parent
    icon = str(ROOT / "crystal_manager" / "resources" / "icons" / "app-32.png")
    commands = {
        "bare": [sys.executable, str(CHILD), "bare", icon],
        "crystal-manager": [str(bindir / "crystal-manager")],
        "crystal-manager-gui": [str(bindir / "crystal-manager-gui")],
        "python -m crystal_manager.gui": [sys.executable, "-m", "crystal_manager.gui"],
        "python -m crystal_manager": [sys.executable, "-m", "crystal_manager"],
        # What `crystal-manager` ran before issue 13: the CLI's parser and verbs first, then the GUI.
        "via the CLI parser (old)": [sys.executable, "-c",
                                     "import sys; from crystal_manager.cli.main import main; sys.exit(main())"],
    }
    if bundle is not None:
        commands["bundle"] = [str(bundle / "crystal-manager")]
    if bare_bundle is not None:
        commands["bare bundle"] = [str(bare_bundle / "bare-tray"), icon]
    return commands


def embed_time(watch: object, argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Spawn ``argv``; seconds until its tray icon is embedded, and the CPU seconds the process used by
    then (less sensitive to other load on the machine than wall time). Then it is stopped."""
    from tray_watch import TrayWatch

    assert isinstance(watch, TrayWatch)
    watch.drain()
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        embedded = watch.wait_embedded(30.0) - start
        cpu = cpu_s(proc.pid)
    except TimeoutError:
        proc.kill()
        raise RuntimeError(f"{argv[0]}: no tray icon ({proc.communicate()[1].decode()[-500:]})") from None
    proc.terminate()
    proc.wait(10)
    time.sleep(0.3)  # the host drops the icon; the next start sees a quiet tray
    return embedded, cpu


def commands_bench(runs: int, bundle: Path | None, bare_bundle: Path | None, *, smoke: bool = False,
                   json_path: Path | None = None) -> int:
    """P1 for every start command, each against the bare tray app (and the bundle against the bare bundle)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tray_watch import TrayWatch

    for package in ("crystal_manager", "crystal_protocol"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    commands = start_commands(bundle, bare_bundle)
    if smoke:  # the baseline and the command users run, once each
        commands = {name: argv for name, argv in commands.items() if name in ("bare", "crystal-manager")}
    watch = TrayWatch()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    names = list(commands)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):  # interleaved, the order rotated each run: all see the same machine state
            for name in names[run % len(names):] + names[:run % len(names)]:
                env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                       "CRYSTAL_MANAGER_HOME": str(Path(tmp) / f"{run}-{name}")}
                times[name].append(embed_time(watch, commands[name], env))
    print(f"spawn to tray icon embedded, {runs} interleaved runs, fresh app folder each; medians, the ratio's "
          "range over runs; then the CPU the process used by then:")
    for i, what in ((0, "wall"), (1, "CPU")):
        med = {name: statistics.median(v[i] for v in vs) for name, vs in times.items()}
        for name, value in med.items():
            base = "bare bundle" if name == "bundle" and "bare bundle" in med else "bare"
            ratio = f"{value / med[base]:.2f}x of {base}" if name != base else "baseline"
            lo, hi = (f(v[i] for v in times[name]) / med[base] for f in (min, max))
            print(f"  {what:4s} {name:32s} {value * 1000:6.0f} ms  {ratio}  ({lo:.2f}-{hi:.2f})")
    out = Report("P1", "Start-up: spawn to tray icon embedded (Xvfb + tray host)", smoke=smoke)
    walls = {name: statistics.median(v[0] for v in vs) for name, vs in times.items()}
    for name, value in walls.items():
        if name in ("bare", "bare bundle", "via the CLI parser (old)"):
            continue
        base = "bare bundle" if name == "bundle" and "bare bundle" in walls else "bare"
        out.add(f"`{name}`", value * 1000, "ms", baseline=walls[base] * 1000, ratio=value / walls[base],
                goal="<= 1.25x", met=value / walls[base] <= 1.25)
    out.notes.append(f"medians of {runs} interleaved runs, a fresh app folder each (the welcome dialog shows)")
    out.write(json_path)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=60.0, help="idle window in seconds (default 60)")
    parser.add_argument("--commands", action="store_true", help="P1 for each start command (see above)")
    parser.add_argument("--bundle", type=Path, help="with --commands: the frozen Manager's folder")
    parser.add_argument("--bare-bundle", type=Path, help="with --commands: the frozen bare tray app's folder")
    add_arguments(parser)
    args = parser.parse_args()
    if args.commands:
        return commands_bench(1 if args.smoke else args.runs, args.bundle, args.bare_bundle, smoke=args.smoke,
                              json_path=args.json)
    sys.path.insert(0, str(ROOT))
    from crystal_manager.cli.demo_server import start_server

    # As an install has them (pip compiles at install, PyInstaller bundles bytecode): without this, a
    # PYTHONDONTWRITEBYTECODE=1 environment compiles every app module from source at each start, while the
    # bare baseline's PySide6 is compiled.
    for package in ("crystal_manager", "crystal_protocol"):
        compileall.compile_dir(str(ROOT / package), quiet=1)

    results: dict[str, list[Result]] = {"bare": [], "first": [], "everyday": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_cli("crystal_server", "init", str(root / "server"))
        server = start_server(root / "server")
        try:
            everyday = everyday_home(root, server.url, server.profile_file)
            if "license.json" not in {p.name for p in Path(everyday["CRYSTAL_MANAGER_HOME"]).rglob("*")}:
                raise RuntimeError("activation left no license.json")
            for run in range(args.runs):  # interleaved so all see the same machine state
                first = {"CRYSTAL_MANAGER_HOME": str(root / f"first-{run}")}  # a fresh home each time
                results["bare"].append(one("bare", args.idle, first))
                results["first"].append(one("app", args.idle, first, "not_activated"))
                results["everyday"].append(one("app", args.idle, everyday, "active"))
        finally:
            server.stop()
    print(f"runs: {args.runs}, idle window: {args.idle:.0f} s (medians; one bare baseline for both)")
    report("first run (fresh home: welcome dialog shows, not activated)", results["bare"], results["first"])
    report("everyday start (welcome done, activated: lease verified locally, no check due)",
           results["bare"], results["everyday"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
