"""The core texts the Privacy page shows (the catalog's words, what the vendor keeps, the policy's own
sections) reach translators and are shown translated (docs/decisions/0007-translation-context.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTranslator
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crystal_manager.gui.language import install_translations
from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.privacy.texts import CONTEXT, marker_module, shown_texts
from tests.gui.test_language import build_tool

ROOT = Path(__file__).resolve().parents[2]
MARKERS = ROOT / "crystal_manager" / "gui" / "pages" / "privacy_catalog_texts.py"


def test_the_marker_module_is_current() -> None:
    assert MARKERS.read_text(encoding="utf-8") == marker_module(), \
        "run: python -m crystal_manager.privacy.texts > crystal_manager/gui/pages/privacy_catalog_texts.py"


@pytest.fixture(scope="module")
def pseudo_qm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, str]]]:
    tool = build_tool()
    ts_file = tool.extract(tmp_path_factory.mktemp("tr") / "crystal_manager_eo.ts")
    found: set[tuple[str, str]] = tool.messages(ts_file)
    return tool.release(tool.pseudo_translate(ts_file)), found


@pytest.fixture
def installed() -> Iterator[list[QTranslator]]:
    made: list[QTranslator] = []
    yield made
    app = QApplication.instance()
    assert app is not None
    for translator in made:
        app.removeTranslator(translator)


def test_every_core_text_the_page_shows_is_extracted(pseudo_qm: tuple[Path, set[tuple[str, str]]]) -> None:
    _qm, extracted = pseudo_qm
    texts = shown_texts()
    assert len(texts) > 100 and "Re-validate the license" in texts and "License & Software Data" in texts
    assert [t for t in texts if (CONTEXT, t) not in extracted] == []


def test_the_page_shows_core_texts_translated(qtbot: QtBot, pseudo_qm: tuple[Path, set[tuple[str, str]]],
                                              installed: list[QTranslator]) -> None:
    qm_file, _extracted = pseudo_qm
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    installed += install_translations(app, languages=["eo"], folder=qm_file.parent)
    assert installed
    page = PrivacyPage()
    qtbot.addWidget(page)
    cells = [cell for row in page.catalog_table.rows() for cell in row]
    assert "[[Re-validate the license]]" in cells and "[[your license key]]" in cells
    assert "[[Links you open in your browser]]" in [row[0] for row in page.others_table.rows()]
    page.may_send.select("license_validate", "fingerprint")
    assert "[[License &amp; Software Data]]" in page.may_send.detail.text()
