"""Child process of tests/gui/test_privacy_render.py: the Privacy page at the scale the environment sets
(QT_SCALE_FACTOR=2) in a 1366x768 screen's worth of points, every tab rendered to PNG; prints the device
pixel ratio, the ledger rows shown and any list column narrower than its text, as JSON.

Usage: python -m tests.gui.privacy_scaled PAGE.json OUTPUT_FOLDER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from tests.support.render import write_png


def main(given: Path, folder: Path) -> int:
    """Render and report."""
    from crystal_manager.gui.pages.privacy_page import PrivacyPage
    from crystal_manager.gui.pages.privacy_tabs import FullTable
    from crystal_manager.privacy.catalog import default_catalog

    app = QApplication([])
    data = json.loads(given.read_text(encoding="utf-8"))
    page = PrivacyPage()
    page.set_catalog(default_catalog())
    page.set_ledger(data["entries"])
    page.set_facts(data["values"], data["next_check"], True, data["files"], data["keyring"])
    page.vendor.set_report(data["report"])
    ratio = page.devicePixelRatioF()
    page.resize(int(1366 / ratio), int(768 / ratio))  # the whole screen, in points
    page.show()
    cut_off: dict[str, list[int]] = {}
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(page.tabs.count()):
        page.tabs.setCurrentIndex(index)
        app.processEvents()
        for table in page.findChildren(FullTable):
            if table.isVisible() and table.cut_off_columns():
                cut_off[table.accessibleName()] = table.cut_off_columns()
        write_png(page.grab().toImage(), folder / f"privacy-200pct-{index}.png")
    print(json.dumps({"device_pixel_ratio": ratio, "cut_off": cut_off, "rows": page.ledger_table.rowCount()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
