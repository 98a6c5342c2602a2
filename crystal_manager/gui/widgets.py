"""Small shared widgets: page titles, banners for warnings and problems, read-only fact rows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

from crystal_manager.gui.problems import Problem

# Colours chosen to keep contrast with dark and light text alike: a tinted background, the palette's text.
_BANNER_STYLE = {
    "info": (31, 111, 235),
    "warning": (201, 138, 0),
    "error": (211, 47, 47),
}


def page_title(text: str) -> QLabel:
    """A page heading (bigger, bold), marked as a heading for screen readers."""
    label = QLabel(text)
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * 1.4)
    font.setBold(True)
    label.setFont(font)
    label.setAccessibleName(text)
    return label


class Banner(QFrame):
    """A coloured box with a bold headline and a body; hidden until given text."""

    def __init__(self, level: str = "info", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = level
        self.setObjectName("banner")
        self._headline = QLabel()
        bold = QFont(self._headline.font())
        bold.setBold(True)
        self._headline.setFont(bold)
        self._headline.setWordWrap(True)
        self._body = QLabel()
        self._body.setWordWrap(True)
        self._body.setOpenExternalLinks(False)
        self._body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self._headline)
        layout.addWidget(self._body)
        self.set_level(level)
        self.hide()

    @property
    def body(self) -> QLabel:
        """The body label (connect ``linkActivated`` for links in it)."""
        return self._body

    def set_level(self, level: str) -> None:
        """info, warning or error."""
        self.level = level
        r, g, b = _BANNER_STYLE[level]
        solid = f"rgb({r}, {g}, {b})"
        # A light tint of the colour over the window's own background: readable in light and dark palettes.
        self.setStyleSheet(f"QFrame#banner {{ border: 1px solid {solid}; border-left: 5px solid {solid};"
                           f" border-radius: 4px; background: rgba({r}, {g}, {b}, 0.14); }}")

    def show_text(self, headline: str, body: str = "", level: str | None = None) -> None:
        """Show the banner with this text."""
        if level:
            self.set_level(level)
        self._headline.setText(headline)
        self._body.setText(body)
        self._body.setVisible(bool(body))
        self.setAccessibleName(headline)
        self.setAccessibleDescription(body)
        self.show()

    def show_problem(self, problem: Problem, extra_html: str = "") -> None:
        """Show a failure: headline, advice, the facts."""
        body = f"{problem.advice}<br><small>{_escape(problem.detail)}</small>"
        # Stopping the wait is the user's choice, not a failure: no red, and the license is as it was.
        self.show_text(problem.headline, body + extra_html, "info" if problem.stopped else "error")

    def text(self) -> str:
        """Headline and body as plain text (for tests and accessibility)."""
        return f"{self._headline.text()}\n{self._body.text()}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class FactRows(QWidget):
    """A two-column form of read-only facts that can be updated by key."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = QFormLayout(self)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._values: dict[str, QLabel] = {}
        self._labels: dict[str, QLabel] = {}

    def add(self, key: str, label: str) -> None:
        """Add a row (hidden until it gets a value)."""
        name = QLabel(label + ":")
        value = QLabel("—")
        value.setWordWrap(True)
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                      | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        value.setAccessibleName(label)
        name.setBuddy(value)
        self._form.addRow(name, value)
        self._values[key] = value
        self._labels[key] = name

    def set(self, key: str, value: str | None, *, details: str | None = None) -> None:
        """Show ``value`` in row ``key``; None hides the row. ``details``: technical details for those who
        want them (shown on hover), never in the row's words."""
        shown = value is not None
        self._values[key].setToolTip(details or "")
        self._values[key].setText(value or "")
        self._values[key].setAccessibleDescription(value or "")
        self._values[key].setVisible(shown)
        self._labels[key].setVisible(shown)
        # The layout's row too: a row whose widgets are merely hidden keeps its spacing, and a page with
        # many empty rows (a license activated from the terminal) showed a blank gap above its buttons.
        self._form.setRowVisible(self._values[key], shown)
        self._form.invalidate()  # the form's cached height (it wraps words) must follow the rows shown now

    def details(self, key: str) -> str:
        """The technical details of row ``key`` (its tooltip; empty when none)."""
        return self._values[key].toolTip()

    def value(self, key: str) -> str | None:
        """The shown text of row ``key`` (None when hidden)."""
        label = self._values[key]
        return label.text() if not label.isHidden() else None


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize ``window`` to ``width`` x ``height`` logical pixels, or to the screen's free area when that is
    smaller (1366x768 at 200 % leaves 683x384 logical pixels), so nothing lies off screen."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        free = screen.availableGeometry()
        width, height = min(width, free.width()), min(height, free.height())
    window.resize(width, height)
