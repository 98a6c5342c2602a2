"""The PNG files the render tests write for people to look at: Qt reads each back pixel for pixel (opaque
and translucent pictures, rows of any width), and a blank picture is written and refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from tests.support.render import save, themed, write_png


def same_pixels(written: Path, image: QImage, fmt: QImage.Format) -> bool:
    """Whether Qt reads ``written`` back as exactly ``image`` (both in ``fmt``)."""
    back = QImage(str(written))
    assert not back.isNull(), f"{written.name} is no PNG Qt can read"
    return back.convertToFormat(fmt) == image.convertToFormat(fmt)


@pytest.mark.parametrize("look", ["light", "dark"])
def test_a_widgets_picture_reads_back_pixel_for_pixel(qtbot: QtBot, tmp_path: Path, look: str) -> None:
    with themed(look):
        label = QLabel("CrystalMe3D Pro — <b>License</b> <i>ending in 7F3A</i>")
        qtbot.addWidget(label)
        label.resize(333, 57)  # rows of 999 bytes: Qt pads each to 1,000 in memory
        label.show()
        qtbot.waitExposed(label)
        written = save(label, "label", tmp_path)
        image = label.grab().toImage()
    assert not image.hasAlphaChannel()
    assert same_pixels(written, image, QImage.Format.Format_RGB888)
    assert written.read_bytes()[12:16] == b"IHDR" and b"pHYs" in written.read_bytes()[:64]


@pytest.mark.parametrize("width", [101, 128])
def test_a_translucent_picture_keeps_its_alpha(tmp_path: Path, width: int) -> None:
    image = QImage(width, 40, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.fillRect(5, 5, 60, 20, QColor(30, 120, 200, 128))
    painter.fillRect(40, 10, 50, 25, QColor(230, 60, 20, 255))
    painter.end()
    written = write_png(image, tmp_path / "translucent.png")
    assert QImage(str(written)).hasAlphaChannel()
    assert same_pixels(written, image, QImage.Format.Format_RGBA8888)


def test_a_blank_picture_is_written_and_refused(qtbot: QtBot, tmp_path: Path) -> None:
    blank = QWidget()
    qtbot.addWidget(blank)
    blank.setFixedSize(200, 80)
    blank.show()
    qtbot.waitExposed(blank)
    with pytest.raises(AssertionError, match="looks blank"):
        save(blank, "blank", tmp_path)
    assert same_pixels(tmp_path / "blank.png", blank.grab().toImage(), QImage.Format.Format_RGB888)
