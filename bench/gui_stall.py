"""The GUI thread's longest stall while a 256 MiB download from the reference server and its SHA-256
run through the background helper, vs the same 10 ms timer in a bare app doing nothing, in the same run.

    tools/with-xvfb-tray.sh python bench/gui_stall.py [--runs 3] [--mib 256]
(or QT_QPA_PLATFORM=offscreen). Prints medians; goal: longest stall < 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from crystal_manager.gui.worker import BackgroundOp, run_in_background
from crystal_manager.services.context import AppContext
from tests.support.bigfile import MIB, download_and_hash, make_big_target
from tests.support.servers import init_server_dir, run_reference_server


def ticking(run: object) -> tuple[float, float]:
    """Run ``run(loop)`` while a 10 ms timer ticks; return (longest gap, elapsed)."""
    ticks = [time.monotonic()]
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    loop = QEventLoop()
    timer.start()
    run(loop)  # type: ignore[operator]
    loop.exec()
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return max(gaps), ticks[-1] - ticks[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    size = args.mib * MIB
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CRYSTAL_MANAGER_HOME"] = str(Path(tmp) / "home")
        server_dir = init_server_dir(Path(tmp) / "server")
        expected = make_big_target(server_dir, size)
        with run_reference_server(server_dir) as server:
            ctx = AppContext.create(profile_file=str(server.profile_file), server_url=server.url)
            bare, busy, elapsed = [], [], []
            for _ in range(args.runs):
                def download(loop: QEventLoop) -> None:
                    def body(handle: BackgroundOp[str]) -> str:
                        return download_and_hash(ctx, "big.bin", size, report=handle.report)

                    op = run_in_background(None, lambda: "", with_handle=body)
                    op.finished.connect(loop.quit)
                    op.succeeded.connect(lambda digest: None if digest == expected else sys.exit("bad digest"))

                gap, took = ticking(download)
                busy.append(gap)
                elapsed.append(took)

                def idle(loop: QEventLoop, took: float = took) -> None:
                    QTimer.singleShot(int(took * 1000), loop.quit)

                bare.append(ticking(idle)[0])
            ctx.close()
    del app
    b, m = statistics.median(bare) * 1000, statistics.median(busy) * 1000
    rate = args.mib / statistics.median(elapsed)
    print(f"runs: {args.runs}, {args.mib} MiB download + SHA-256 via the background helper "
          f"({rate:.0f} MiB/s, medians)")
    print(f"longest GUI stall:   idle app {b:.1f} ms, during download {m:.1f} ms (goal < 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
