"""Rendering widgets to PNG for people to look at: a dark palette, a light/dark switch, and a save that
refuses blank pictures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def dark_palette() -> QPalette:
    """A dark palette like a desktop's dark theme."""
    pal = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.WindowText, "#e8eaed"),
                         (QPalette.ColorRole.Base, "#2b2c2f"), (QPalette.ColorRole.AlternateBase, "#323336"),
                         (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.Button, "#303134"),
                         (QPalette.ColorRole.ButtonText, "#e8eaed"), (QPalette.ColorRole.Highlight, "#8ab4f8"),
                         (QPalette.ColorRole.HighlightedText, "#202124"), (QPalette.ColorRole.ToolTipBase, "#303134"),
                         (QPalette.ColorRole.ToolTipText, "#e8eaed"), (QPalette.ColorRole.Link, "#8ab4f8"),
                         (QPalette.ColorRole.PlaceholderText, "#9aa0a6")):
        pal.setColor(role, QColor(colour))
    return pal


@contextmanager
def themed(name: str) -> Iterator[str]:
    """Fusion style with a light or dark palette for the block; the previous look afterwards."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    style, palette = app.style().name(), app.palette()
    # A new style object repolishes every widget alive (~30 ms a call here): set one only for a change.
    changed = style.lower() != "fusion"
    if changed:
        app.setStyle(QStyleFactory.create("Fusion"))
    app.setPalette(dark_palette() if name == "dark" else app.style().standardPalette())
    try:
        yield name
    finally:
        if changed:
            app.setStyle(QStyleFactory.create(style) or QStyleFactory.create("Fusion"))
        app.setPalette(palette)


#: Qt's PNG "quality" picks zlib's effort; its default spends ~37 ms per window picture here where 80 spends
#: ~22 ms for files no larger (40 of the suite's pictures: 3.6 MB either way).
PNG_QUALITY = 80


def save(widget: QWidget, name: str, folder: Path) -> Path:
    """Grab ``widget`` to ``folder/name.png``; fail on a blank or tiny picture."""
    folder.mkdir(parents=True, exist_ok=True)
    widget.adjustSize() if not widget.isWindow() else None
    QApplication.processEvents()
    path = folder / f"{name}.png"
    assert widget.grab().save(str(path), None, PNG_QUALITY)
    image = QImage(str(path))
    assert image.width() > 100 and image.height() > 20
    assert _colours(image, enough=4) >= 4, f"{name} looks blank"
    return path


def _colours(image: QImage, enough: int) -> int:
    """How many colours a grid of every 7th pixel holds, counting no further than ``enough``."""
    seen: set[int] = set()
    for x in range(0, image.width(), 7):
        for y in range(0, image.height(), 7):
            seen.add(image.pixel(x, y))
            if len(seen) >= enough:
                return len(seen)
    return len(seen)
