"""`update download` / `install` say whether a patch or the full file came and why, and a second install
says there is nothing to install (issue 10, findings 9 and 10) — the real CLI against the reference server."""

from __future__ import annotations

from pathlib import Path

from crystal_manager.cli.exit_codes import EXIT_OK
from tests.cli.test_update_cli import Cli, activate
from tests.support.delta_bundles import publish_release
from tests.support.servers import ReferenceServer


def _downloads(cli: Cli) -> Path:
    return next(p for p in cli.home.rglob("downloads") if p.is_dir())


def test_patch_or_full_file_and_why_then_nothing_to_install(tmp_path: Path,
                                                           reference_server: ReferenceServer) -> None:
    home = tmp_path / "cli-home"
    home.mkdir()
    cli = Cli(home, reference_server)
    activate(cli, reference_server)
    publish_release(reference_server, "1.0.0")
    assert cli("update", "download").returncode == EXIT_OK
    assert cli("update", "install").returncode == EXIT_OK
    publish_release(reference_server, "1.1.0", patches=1)
    check = cli("update", "check")
    assert "a patch from 1.0.0" in check.stdout, check.stdout
    download = cli("update", "download")
    assert download.returncode == EXIT_OK, download.stderr
    assert "Downloaded version 1.1.0: a signed patch from 1.0.0 (" in download.stdout, download.stdout
    assert cli("update", "install").returncode == EXIT_OK

    publish_release(reference_server, "1.2.0", patches=1)
    for kept in _downloads(cli).iterdir():  # the 1.1.0 download the patch applies to is gone
        if kept.is_file():
            kept.unlink()
    check = cli("update", "check")
    because = "the patch applies to the 1.1.0 download, which is not kept on this computer"
    assert f"(the full file: {because})" in check.stdout, check.stdout
    download = cli("update", "download")
    assert download.returncode == EXIT_OK, download.stderr
    assert "Downloaded version 1.2.0: the full file (" in download.stdout and because in download.stdout
    assert cli("update", "install").returncode == EXIT_OK

    again = cli("update", "install")
    assert again.returncode == EXIT_OK, again.stderr
    assert "Nothing to install: CrystalMe3D Pro 1.2.0 is installed and is the newest version" in again.stdout
    assert "download" not in again.stdout + again.stderr  # no circle back to `update download`
