"""The privacy export (one function for the CLI and the Privacy page): whole or not at all, user-only, and a
mistyped folder is an error rather than a folder made for it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from crystal_manager.services.context import AppContext
from crystal_manager.services.privacy_view import catalog_json, export_privacy
from tests.support.servers import ReferenceServer


def test_the_export_holds_the_log_and_the_catalog_and_replaces_an_old_one_whole(
        app_home: Path, reference_server: ReferenceServer, tmp_path: Path) -> None:
    from crystal_manager.services.health import check_server

    ctx = AppContext.create(profile_file=str(reference_server.profile_file), server_url=reference_server.url)
    try:
        check_server(ctx)  # one real request in the log
        out = tmp_path / "export.json"
        out.write_text("an older export, longer than the new one will be " * 5000, encoding="utf-8")
        assert export_privacy(ctx, out) == 1
        exported = json.loads(out.read_text(encoding="utf-8"))
        assert exported["log"] == ctx.ledger.entries() and len(exported["log"]) == 1
        assert exported["catalog"] == catalog_json(ctx.catalog)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600  # what was sent about you: yours alone
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export.json.")] == []  # no leftovers
    finally:
        ctx.close()


def test_a_missing_folder_is_an_error_and_nothing_is_made(app_home: Path, tmp_path: Path) -> None:
    ctx = AppContext.create()
    try:
        with pytest.raises(FileNotFoundError):
            export_privacy(ctx, tmp_path / "no-such-folder" / "export.json")
        assert not (tmp_path / "no-such-folder").exists()
    finally:
        ctx.close()
