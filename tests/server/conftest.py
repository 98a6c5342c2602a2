"""Each test's server folder is a copy of one made by ``crystal-server init`` once per test process
(tests/support/server_template.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server_template import copy_server_dir, make_template


@pytest.fixture(scope="session")
def server_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every ``server_dir`` here is copied from (never served or changed itself)."""
    return make_template(tmp_path_factory.mktemp("server-template"))


@pytest.fixture
def server_dir(tmp_path: Path, server_template: Path) -> Path:
    """A folder as made by ``crystal-server init`` (not yet serving): this test's own copy."""
    return copy_server_dir(server_template, tmp_path / "server")
