"""A server folder made once per test process by the real ``crystal-server init`` and copied for each test.

``init`` makes five ed25519 keys, signs the four TUF roles and creates and migrates the SQLite database:
~19 ms of CPU (with its fsyncs) against ~6 ms for a copy of the files. The ``server_dir`` fixture
(tests/conftest.py) hands each test its own copy, so the tests of one process share those keys
(each test still has its own folder, database, app home and keyring); a test that needs keys of its own, or
a second server that must not trust the first's, calls ``init_server_dir`` itself (fresh keys every time).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.servers import init_server_dir


def make_template(folder: Path) -> Path:
    """A server folder at ``folder / "server"`` made by ``crystal-server init`` (nothing serves it)."""
    return init_server_dir(folder / "server")


def copy_server_dir(template: Path, dest: Path) -> Path:
    """``template`` copied to ``dest`` (modes kept: the key files stay user-only); returns ``dest``."""
    shutil.copytree(template, dest, symlinks=True)
    return dest
