"""The app's shipped files (icons, the vendor's trust anchors, translations), inside this package.

They are package data (pyproject.toml ``[tool.setuptools.package-data]``; ``datas`` in crystal_manager.spec),
so a wheel install, an editable checkout and a PyInstaller bundle (which unpacks them to
``_MEIPASS/crystal_manager/resources``) all find them in the same place: this package's folder.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def resources_dir() -> Path:
    """The folder holding ``icons/``, ``trust/`` and ``translations/`` (a real folder: Qt loads by path).

    For a package on the file system this is what ``importlib.resources.files(__name__)`` returns; that
    module is only imported when the package is not a plain folder (a start-up trick:
    docs/decisions/0012-start-up-tricks.md). Raises :class:`RuntimeError` when the files are not on the file
    system at all.
    """
    if (_HERE / "trust").is_dir():
        return _HERE
    from importlib.resources import files

    root = files(__name__)
    if isinstance(root, Path) and (root / "trust").is_dir():
        return root
    raise RuntimeError(f"the app's resources are not on the file system ({root!r}); reinstall the app")
