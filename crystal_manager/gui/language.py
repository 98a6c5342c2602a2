"""The user's language: load the app's translations (``resources/translations/crystal_manager_<lang>.qm``,
made with ``build/translations.py``) and Qt's own (standard buttons) for the system's UI languages.
English is the source language: with no file for the user's languages, the English text stays."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from crystal_manager.resources import resources_dir

BASENAME = "crystal_manager"


def translations_dir() -> Path:
    """Where the app's ``.qm`` files are shipped."""
    return resources_dir() / "translations"


def install_translations(app: QCoreApplication, *, locale: QLocale | None = None,
                         folder: Path | None = None) -> list[QTranslator]:
    """Install the translations found for ``locale`` (default: the system's); returns those installed.
    Called before the app's widgets are built, after the first tray icon (which is re-labelled on
    adoption)."""
    wanted = locale or QLocale.system()
    installed: list[QTranslator] = []
    sources = ((BASENAME, folder or translations_dir()),
               ("qtbase", Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))))
    for name, where in sources:
        translator = QTranslator(app)
        if translator.load(wanted, name, "_", str(where)) and app.installTranslator(translator):
            installed.append(translator)
        else:
            translator.deleteLater()
    return installed
