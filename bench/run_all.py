"""Run every benchmark and rewrite the summary table of docs/performance.md (``./dev bench``).

    ./dev bench                  every benchmark at its documented size; rewrites the page's table
    ./dev bench --smoke          tiny sizes, one run each, no goal judged (CI: the benchmarks cannot rot);
                                 the page is left alone unless --page is given
    ./dev bench --only P8,P5     some of them

Each benchmark writes its figures as JSON (bench/_report.py); the table between the page's
``bench-summary`` markers is made from those files, with the date, the machine and how to run each again.
The prose sections of the page are written by people and are not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PAGE = ROOT / "docs" / "performance.md"
BEGIN = "<!-- bench-summary:begin (written by ./dev bench; edit bench/run_all.py, not this table) -->"
END = "<!-- bench-summary:end -->"
XVFB = ROOT / "tools" / "with-xvfb-tray.sh"


@dataclass(frozen=True)
class Bench:
    """One benchmark script and how ``./dev bench`` runs it."""

    id: str
    script: str
    full: tuple[str, ...] = ()
    smoke: tuple[str, ...] = ()
    display: bool = False  # needs an X display with a tray host (tools/with-xvfb-tray.sh)
    offscreen: bool = False  # Qt without a display
    timeout: float = 3600.0


BENCHES = (
    Bench("P1", "start_bench.py", ("--commands", "--runs", "11"), ("--commands",), display=True),
    Bench("P3, P4", "update_download.py", ("--size-mib", "512", "--runs", "6")),
    Bench("P5", "delta_bench.py", ("--mb", "400", "--compare-mb", "64")),
    Bench("P6", "update_gui_stall.py", ("--runs", "3", "--mib", "256"), offscreen=True),
    Bench("P7", "license_bench.py"),
    Bench("P8", "server_bench.py"),
)


def command(bench: Bench, smoke: bool, json_path: Path) -> list[str]:
    """The command line for one benchmark (as shown on the page, less --json)."""
    args = [sys.executable, str(BENCH / bench.script), *(bench.smoke if smoke else bench.full)]
    if bench.id == "P1" and not smoke:
        bundle, bare = ROOT / "dist" / "crystal-manager", ROOT / "dist" / "bare-tray"
        if bundle.is_dir() and bare.is_dir():  # made by build/package.sh and build/package.sh --bare
            args += ["--bundle", str(bundle), "--bare-bundle", str(bare)]
    if smoke:
        args.append("--smoke")
    args += ["--json", str(json_path)]
    if bench.display and not os.environ.get("DISPLAY"):
        args = [str(XVFB), *args]
    return args


def run(bench: Bench, smoke: bool, out: Path) -> dict[str, Any]:
    """Run one benchmark; its JSON, or a failure record (``error``) that the table shows."""
    json_path = out / f"{bench.script.removesuffix('.py')}.json"
    json_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if bench.offscreen:
        env["QT_QPA_PLATFORM"] = "offscreen"
    elif bench.display:
        env.pop("QT_QPA_PLATFORM", None)
        # tools/with-xvfb-tray.sh polls for the tray host with ``python3``: this interpreter's, not a version
        # manager's shim (pyenv's runs ~30 shell processes per call, ~0.15 s of CPU each poll).
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    started = time.monotonic()
    print(f"== {bench.id}: {bench.script}{' (smoke)' if smoke else ''}", flush=True)
    try:
        proc = subprocess.run(command(bench, smoke, json_path), cwd=ROOT, env=env, text=True, capture_output=True,
                              timeout=120 if smoke else bench.timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"id": bench.id, "script": bench.script, "error": "timed out"}
    print(proc.stdout, end="", flush=True)
    took = time.monotonic() - started
    if proc.returncode != 0 or not json_path.exists():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(proc.stderr, end="", file=sys.stderr)
        return {"id": bench.id, "script": bench.script, "error": f"exit {proc.returncode}: {tail}"[:300]}
    data: dict[str, Any] = json.loads(json_path.read_text(encoding="utf-8"))
    data["script"], data["seconds"] = bench.script, round(took, 1)
    return data


def machine() -> dict[str, str]:
    """Cores, CPU model, Python and Qt versions, the load when the run started."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    qt = subprocess.run([sys.executable, "-c", "import PySide6, PySide6.QtCore as c; print(PySide6.__version__, "
                         "c.qVersion())"], capture_output=True, text=True, check=False).stdout.split()
    return {"cores": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "pyside": qt[0] if qt else "?", "qt": qt[1] if len(qt) > 1 else "?",
            "load": f"{os.getloadavg()[0]:.1f}", "system": f"{platform.system()} {platform.machine()}"}


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{text} {unit}".strip()


def table(results: list[dict[str, Any]], facts: dict[str, str], smoke: bool) -> str:
    """The generated part of the page, markers included."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [BEGIN, "",
             f"Last `./dev bench{' --smoke' if smoke else ''}`: {when}, {facts['cores']} cores ({facts['cpu']}), "
             f"{facts['system']}, Python {facts['python']}, PySide6 {facts['pyside']} / Qt {facts['qt']}, load "
             f"{facts['load']} at the start (the machine is shared: figures are indicative; ratios are taken within "
             "one run)." + (" **Smoke run: tiny sizes, goals not judged.**" if smoke else ""), "",
             "| | figure | value | baseline (same run) | ratio | goal | met |", "|---|---|---|---|---|---|---|"]
    missed: list[str] = []
    for result in results:
        if "error" in result:
            lines.append(f"| {result['id']} | `{result['script']}` did not run | {result['error']} | | | | no |")
            missed.append(f"{result['id']} did not run")
            continue
        for row in result["rows"]:
            met = {True: "yes", False: "**no**", None: "—"}[row["met"]]
            ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "—"
            lines.append(f"| {result['id']} | {row['name']} | {_number(row['value'], row['unit'])} | "
                         f"{_number(row['baseline'], row['unit'])} | {ratio} | {row['goal'] or '—'} | {met} |")
            if row["met"] is False:
                missed.append(f"{result['id']} {row['name']} ({_number(row['value'], row['unit'])}, goal "
                              f"{row['goal']})")
    lines.append("")
    if smoke:
        lines.append("Goals are judged only by a full run.")
    elif missed:
        lines.append("**Goals not met in this run:** " + "; ".join(missed) + ". The sections below say why and "
                     "what was tried.")
    else:
        lines.append("Every goal was met in this run.")
    lines += ["", "Run again: `./dev bench` (all, ~" + _total(results) + "), or one script at the size above:", ""]
    for bench in BENCHES:
        if any(r["id"] == bench.id for r in results):
            shown = " ".join((["tools/with-xvfb-tray.sh"] if bench.display else [])
                             + [".venv/bin/python", f"bench/{bench.script}", *(bench.full)])
            lines.append(f"- {bench.id}: `{shown}`")
    notes = [f"{r['id']}: {note}" for r in results for note in r.get("notes", [])]
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    lines += ["", END]
    return "\n".join(lines)


def _total(results: list[dict[str, Any]]) -> str:
    seconds = sum(float(r.get("seconds", 0)) for r in results)
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def rewrite(page: Path, block: str) -> None:
    """Put ``block`` between the markers (or after the page's first paragraph the first time)."""
    text = page.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        title, _, body = text.partition("\n\n")
        intro, _, rest = body.partition("\n\n")
        text = f"{title}\n\n{intro}\n\n## Summary\n\n{block}\n\n{rest}"
    page.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run, no goal judged")
    parser.add_argument("--only", help="comma-separated ids (P1,P3,P5,P6,P7,P8)")
    parser.add_argument("--page", type=Path, help=f"the page to rewrite (default {PAGE.relative_to(ROOT)}; "
                                                  "with --smoke only when given)")
    parser.add_argument("--out", type=Path, help="keep each benchmark's JSON here")
    args = parser.parse_args()
    wanted = {part.strip() for part in args.only.split(",")} if args.only else None
    benches = [b for b in BENCHES if (BENCH / b.script).exists()
               and (wanted is None or any(w in b.id.split(", ") for w in wanted))]
    missing = [b.script for b in BENCHES if not (BENCH / b.script).exists()]
    facts = machine()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-json-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        results = [run(bench, args.smoke, out) for bench in benches]
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    block = table(results, facts, args.smoke)
    page = args.page or (None if args.smoke else PAGE)
    if page is not None:
        rewrite(page, block)
        print(f"rewrote the summary in {page}")
    else:
        print(block)
    if missing:
        print(f"not in bench/ (yet): {', '.join(missing)}")
    failed = [r["id"] for r in results if "error" in r]
    if failed:
        print(f"did not run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
