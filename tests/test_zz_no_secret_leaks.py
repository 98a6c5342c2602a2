"""After the whole suite: grep every file the app and the tests' servers wrote for any license key used.

Only the keyring's user-only fallback file (``state/secrets.json``, mode 0600) may hold a key: that file is
the secret store on machines without a keyring. Logs, ledgers, state files, offline files: never.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from crystal_manager.services.context import AppContext
from tests.support.licensing import ISSUED_KEYS, issue, service
from tests.support.servers import ReferenceServer


def _variants(key: str) -> set[bytes]:
    body = key.removeprefix("CM3D-")
    return {key.encode(), key.lower().encode(), body.replace("-", "").encode(), body.encode()}


@pytest.mark.run_last
def test_no_license_key_in_any_file_written(tmp_path_factory: pytest.TempPathFactory, lic_ctx: AppContext,
                                            reference_server: ReferenceServer, tmp_path: Path) -> None:
    # Make sure there is at least one full flow behind us even when this test runs alone.
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    svc.verify()
    svc.machines()
    svc.write_offline_request(lic.key, tmp_path / "request.json")
    assert len(ISSUED_KEYS) >= 1
    needles = set().union(*(_variants(k) for k in ISSUED_KEYS))
    scanned = 0
    leaks: list[str] = []
    for path in tmp_path_factory.getbasetemp().rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        scanned += 1
        if path.name == "secrets.json" and path.parent.name == "state":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            continue
        leaks += [f"{path}" for needle in needles if needle in data]
    assert scanned > 10
    assert leaks == []
