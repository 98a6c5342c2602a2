"""P6: the GUI thread's longest stall while the Updates page's own flow (gui/update_flow.py) checks,
downloads, verifies and installs a release of --mib MiB from the reference server, vs the same 10 ms timer
in the same app doing nothing for as long, in the same run. Everything real: a license activated on the
server, the release published with ``crystal-server release publish``, the real UpdateService.

    tools/with-xvfb-tray.sh .venv/bin/python bench/update_gui_stall.py [--runs 3] [--mib 256]
(or QT_QPA_PLATFORM=offscreen). Prints medians; goal: longest stall < 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # the 0600 file fallback

from _report import Report, add_arguments
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from crystal_manager.gui.update_flow import UpdateFlow
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from tests.support.licensing import issue
from tests.support.servers import ReferenceServer, init_server_dir, run_reference_server
from tests.support.update_repo import publish

MIB = 1024 * 1024


def ticking(steps: list[tuple[UpdateFlow, str]]) -> tuple[float, float]:
    """Run each flow action in turn (waiting for its ``done``) while a 10 ms timer ticks; (longest gap,
    elapsed). With no steps, idle for ``IDLE_FOR`` seconds."""
    ticks = [time.monotonic()]
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    for flow, action in steps:
        loop = QEventLoop()
        finished: list[str] = []

        def on_done(name: str, loop: QEventLoop = loop, finished: list[str] = finished) -> None:
            finished.append(name)
            loop.quit()

        flow.done.connect(on_done)
        getattr(flow, action)()
        loop.exec()
        flow.done.disconnect(on_done)
        assert finished == [action] and flow.facts.problem is None, (finished, flow.facts.problem)
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return max(gaps), ticks[-1] - ticks[0]


def idle(seconds: float) -> float:
    ticks = [time.monotonic()]
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    timer.start()
    loop.exec()
    timer.stop()
    return max(b - a for a, b in itertools.pairwise(ticks))


def one_run(tmp: Path, server: ReferenceServer, version: str, size: int) -> tuple[float, float]:
    publish(server, version, payload_bytes=size)
    ctx = AppContext.create(profile_file=str(server.profile_file), server_url=server.url)
    flow = UpdateFlow(ctx)
    try:
        return ticking([(flow, "refresh"), (flow, "check"), (flow, "download"), (flow, "install")])
    finally:
        ctx.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=256)
    add_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.mib = 1, 4
    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="bench-update-stall-"))
    try:
        os.environ["CRYSTAL_MANAGER_HOME"] = str(tmp / "home")
        server_dir = init_server_dir(tmp / "server")
        with run_reference_server(server_dir) as server:
            ctx = AppContext.create(profile_file=str(server.profile_file), server_url=server.url)
            LicenseService(ctx).activate(issue(server_dir, max_version="99.0").key)
            ctx.close()
            busy, bare, elapsed = [], [], []
            for run in range(args.runs):
                gap, took = one_run(tmp, server, f"1.{run + 1}.0", args.mib * MIB)
                busy.append(gap)
                elapsed.append(took)
                bare.append(idle(took))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    del app
    b, m = statistics.median(bare) * 1000, statistics.median(busy) * 1000
    print(f"runs: {args.runs}, check + {args.mib} MiB download + verify + install through the Updates page's flow "
          f"({statistics.median(elapsed):.1f} s each, medians)")
    print(f"longest GUI stall:   idle app {b:.1f} ms, during the update {m:.1f} ms (goal < 50 ms)")
    out = Report("P6", f"GUI stall during an update through the Updates page ({args.mib} MiB)", smoke=args.smoke)
    out.add("longest GUI-thread stall during check + download + verify + install", m, "ms", baseline=b,
            ratio=m / b if b else None, goal="< 50 ms", met=m < 50)
    out.notes.append(f"median of {args.runs}; baseline: the same app idle as long; platform "
                     f"{os.environ.get('QT_QPA_PLATFORM') or 'xcb'}")
    out.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
