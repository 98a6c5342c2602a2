"""Release notes, rendered safely: Markdown or plain text from the signed release record, shown with no
scripts (Qt's text engine has none), no HTML (Markdown's raw HTML is shown as text), no images and no remote
or local resources (nothing is ever loaded), and links that open in the browser only when clicked — and only
http and https ones. The view never navigates by itself (Sparkle 1.14's lesson: notes are untrusted text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QUrl
from PySide6.QtGui import QBrush, QDesktopServices, QTextCharFormat, QTextCursor, QTextDocument, QTextFormat
from PySide6.QtWidgets import QTextBrowser, QWidget

from crystal_manager.gui.texts import tr

MAX_NOTES = 64 * 1024  # characters rendered; signed metadata is small, but the view stays bounded anyway
OPENABLE = frozenset({"http", "https"})
_MARKDOWN_HINTS = re.compile(r"(^\s{0,3}(#{1,6}\s|[-*+]\s|\d+[.)]\s|>|```))|\*\*|__|\[[^\]]+\]\([^)]+\)|`",
                             re.MULTILINE)
_FEATURES = QTextDocument.MarkdownFeature.MarkdownDialectGitHub | QTextDocument.MarkdownFeature.MarkdownNoHTML


def looks_like_markdown(text: str) -> bool:
    """True when the notes use Markdown marks (headings, lists, emphasis, links, code)."""
    return bool(_MARKDOWN_HINTS.search(text))


def openable(url: QUrl) -> bool:
    """Only web links leave the app (never file:, javascript:, data: or anything else)."""
    return url.isValid() and url.scheme().lower() in OPENABLE and bool(url.host())


class NotesView(QTextBrowser):
    """A read-only release-notes box. ``opener`` opens a clicked web link (the desktop's browser)."""

    def __init__(self, parent: QWidget | None = None, *,
                 opener: Callable[[QUrl], object] = QDesktopServices.openUrl) -> None:
        super().__init__(parent)
        self._opener = opener
        self._text: str | None = None
        self.setOpenLinks(False)  # a click never makes the view load anything itself
        self.setOpenExternalLinks(False)
        self.setSearchPaths([])
        self.setReadOnly(True)
        self.setAccessibleName(tr("Release notes"))
        self.anchorClicked.connect(self._clicked)

    def loadResource(self, kind: int, name: QUrl | str) -> Any:  # Qt names it
        """Nothing is ever loaded: no images, style sheets or other documents, local or remote."""
        return None

    def changeEvent(self, event: QEvent) -> None:  # Qt names it
        """Draw again with the new palette's link colour when the desktop switches light/dark."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._text is not None:
            self.set_notes(self._text)

    def set_notes(self, text: str | None) -> None:
        """Show ``text`` (Markdown or plain); empty notes say so."""
        self._text = text
        body = (text or "").strip()[:MAX_NOTES]
        if not body:
            self.setPlainText(tr("This release has no notes."))
            return
        if looks_like_markdown(body):
            self.document().setMarkdown(body, _FEATURES)
            _defuse(self.document(), self.palette().link())
            _calm_headings(self.document(), self.font().pointSizeF())
        else:
            self.setPlainText(body)
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def _clicked(self, url: QUrl) -> None:
        # setOpenLinks(False) keeps the view where it is; only web links go to the browser.
        if openable(url):
            self._opener(url)


def _calm_headings(doc: QTextDocument, base: float) -> None:
    """Headings a little bigger than the text, not poster-sized: the notes sit inside a page."""
    block = doc.begin()
    while block.isValid():
        level = block.blockFormat().headingLevel()
        if level > 0:
            cursor = QTextCursor(block)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            fmt.setProperty(QTextFormat.Property.FontSizeAdjustment, 0)  # Markdown's "xx-large" off
            fmt.setFontPointSize(base * (1.25 if level <= 2 else 1.1))
            fmt.setFontWeight(700)
            cursor.mergeCharFormat(fmt)
        block = block.next()


def _defuse(doc: QTextDocument, link: QBrush) -> None:
    """Replace images by their description and turn links that are not web links into plain text."""
    edits: list[tuple[int, int, str | None, QTextCharFormat]] = []  # where, how long, words (None: keep)
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                alt = str(fmt.property(QTextFormat.Property.ImageAltText) or "").strip()
                words = tr("[picture: %1]").replace("%1", alt) if alt else tr("[picture]")
                edits.append((fragment.position(), fragment.length(), words, QTextCharFormat()))
            elif fmt.isAnchor() and openable(QUrl(fmt.anchorHref())):
                coloured = QTextCharFormat(fmt)
                coloured.setForeground(link)  # the palette's link colour, readable on light and dark
                edits.append((fragment.position(), fragment.length(), None, coloured))
            elif fmt.isAnchor():
                unlinked = QTextCharFormat(fmt)
                unlinked.setAnchor(False)
                unlinked.setAnchorHref("")
                unlinked.clearForeground()
                unlinked.setFontUnderline(False)
                edits.append((fragment.position(), fragment.length(), None, unlinked))
            it += 1
        block = block.next()
    for position, length, replacement, fmt in reversed(edits):  # from the end: earlier positions stay put
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        if replacement is None:
            cursor.setCharFormat(fmt)
        else:
            cursor.insertText(replacement, fmt)
