"""The user's language: load the app's translations (``translations/crystal_manager_<lang>.qm`` in the
package's resources, made with ``build/translations.py``) and Qt's own (standard buttons) for the system's UI
languages, in the user's order of preference. English is the source language: where English comes first, or no file
matches, the English text stays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from crystal_manager.resources import resources_dir

BASENAME = "crystal_manager"
SOURCE_LANGUAGE = "en"


def translations_dir() -> Path:
    """Where the app's ``.qm`` files are shipped."""
    return resources_dir() / "translations"


def candidates(languages: Sequence[str]) -> list[str]:
    """File suffixes to try, best first, up to the source language. Languages keep the user's order; within
    one, the exact codes come before the bare language (Qt lists ``pt-Latn-BR, pt-BR, pt-Latn, pt``, and a
    Brazilian file must win over a Portuguese one). ``["de-AT", "en", "fr"]`` → ``["de_AT", "de"]``:
    English comes next, and English needs no file."""
    groups: dict[str, list[str]] = {}
    for language in languages:
        code = language.replace("-", "_")
        base = code.split("_")[0]
        if base.lower() == SOURCE_LANGUAGE:
            break
        groups.setdefault(base, [])
        if code != base and code not in groups[base]:
            groups[base].append(code)
    return [code for base, codes in groups.items() for code in (*codes, base)]


def _load_first(app: QCoreApplication, name: str, folder: Path, suffixes: list[str]) -> QTranslator | None:
    for suffix in suffixes:
        # The exact file only: given a bare name, QTranslator.load itself falls back from pt_Latn_BR to pt,
        # which would put the bare language before the user's region.
        path = folder / f"{name}_{suffix}.qm"
        if not path.is_file():
            continue
        translator = QTranslator(app)
        if translator.load(str(path)) and app.installTranslator(translator):
            return translator
        translator.deleteLater()
    return None


def install_translations(app: QCoreApplication, *, languages: Sequence[str] | None = None,
                         folder: Path | None = None) -> list[QTranslator]:
    """Install the app's and Qt's translations for ``languages`` (default: the system's UI languages, most
    preferred first); returns those installed. Called before the app's widgets are built (the first tray
    icon, shown earlier, is re-labelled when the app adopts it)."""
    suffixes = candidates(QLocale.system().uiLanguages() if languages is None else languages)
    if not suffixes:
        return []
    qt_folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))
    loaded = (_load_first(app, BASENAME, folder or translations_dir(), suffixes),
              _load_first(app, "qtbase", qt_folder, suffixes))
    return [translator for translator in loaded if translator is not None]
