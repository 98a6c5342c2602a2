"""After the whole suite: grep every file the app and the tests' servers wrote for any license key used.

Only the keyring's user-only fallback file (``state/secrets.json``, mode 0600) may hold a key: that file is
the secret store on machines without a keyring. Logs, ledgers, state files, offline files: never.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import pytest

from crystal_manager.services.context import AppContext
from tests.storage.file_keyring import STAND_IN_NAME
from tests.support.leak_scan import folder_runs, holding_key, load_folder_runs, runs, save_folder_runs
from tests.support.licensing import ISSUED_KEYS, issue, service
from tests.support.servers import ReferenceServer
from tests.support.workers import whole_run


def _variants(key: str) -> set[bytes]:
    body = key.removeprefix("CM3D-")
    return {key.encode(), key.lower().encode(), body.replace("-", "").encode(), body.encode()}


_LARGE = 4 * 1024 * 1024


def _holds_key(data: bytes, needles: set[bytes]) -> bool:
    return bool(holding_key({"data": runs(data)}, needles))


@pytest.mark.run_last
@pytest.mark.timeout(600)
def test_no_license_key_in_any_file_written(tmp_path_factory: pytest.TempPathFactory, lic_ctx: AppContext,
                                            reference_server: ReferenceServer, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    # Make sure there is at least one full flow behind us even when this test runs alone.
    lic = issue(reference_server.data_dir)
    svc = service(lic_ctx)
    svc.activate(lic.key)
    svc.verify()
    svc.machines()
    svc.write_offline_request(lic.key, tmp_path / "request.json")
    assert len(ISSUED_KEYS) >= 1
    # The whole run: under pytest-xdist, every worker's folder and keys, once the other workers are done.
    root, keys, known = whole_run(request.config, tmp_path_factory, ISSUED_KEYS)
    needles = set().union(*(_variants(k) for k in keys))
    runs_of: dict[str, frozenset[bytes]] = {}
    scanned = folder_runs(root, known)
    for name, entry in scanned.items():
        path = Path(name)
        if path.name == "secrets.json" and path.parent.name == "state":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            continue
        if path.name == STAND_IN_NAME:  # a test's stand-in for the desktop keyring, where the key belongs
            continue
        runs_of[name] = entry.runs
    assert len(scanned) > 10
    assert sorted(holding_key(runs_of, needles)) == []


def test_the_large_file_scan_finds_every_form_of_a_key() -> None:
    key = "CM3D-ABCDE-FGHJK-MNPQR-STVWX"
    filler = bytes(range(256)) * (_LARGE // 256 + 1)
    for needle in _variants(key):
        assert _holds_key(filler + b"\x00" + needle + b"\x01" + filler, _variants(key))
        assert _holds_key(b"x" + needle, _variants(key))
    assert not _holds_key(filler + b"CM3D-ABCDE-FGHJK" + filler, _variants(key))


def test_the_scan_names_exactly_the_files_holding_a_form_of_a_key() -> None:
    key = "CM3D-ABCDE-FGHJK-MNPQR-STVWX"
    body = key.removeprefix("CM3D-")
    runs_of = {"first": runs(b"x" * 40), "upper": runs(b"{\"k\": \"" + key.encode() + b"\"}"),
               "empty": set(), "lower": runs(b"log " + key.lower().encode()), "none": runs(b"y" * 30),
               "bare": runs(body.replace("-", "").encode() + b"\n"), "last": runs(b"- " + body.encode())}
    assert holding_key(runs_of, _variants(key)) == {"upper", "lower", "bare", "last"}
    assert holding_key(runs_of, _variants("CM3D-ZZZZZ-FGHJK-MNPQR-STVWX")) == set()


def test_the_runs_are_what_the_regular_expression_finds() -> None:
    import random

    rng = random.Random(5)
    alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_. \x00\xff"
    data = bytes(rng.choice(alphabet) for _ in range(200_000)) + b"CM3D-ABCDE-FGHJK-MNPQR-STVWX"
    expected = set(re.findall(rb"[0-9A-Za-z-]{20,}", data))
    assert expected and runs(data) == expected


def test_a_file_changed_after_its_worker_read_it_is_read_again(tmp_path: Path) -> None:
    key = "CM3D-ABCDE-FGHJK-MNPQR-STVWX"
    (tmp_path / "a").mkdir()
    kept, changed = tmp_path / "a" / "kept.log", tmp_path / "changed.log"
    kept.write_bytes(b"nothing here " * 10)
    changed.write_bytes(b"x" * 40)
    for path in (kept, changed):  # written well before the worker read them (see the next test)
        os.utime(path, ns=(time.time_ns() - 60 * 10**9, time.time_ns() - 60 * 10**9))
    saved = tmp_path.parent / f"{tmp_path.name}-runs.pickle"
    save_folder_runs(tmp_path, saved)
    known = load_folder_runs(saved)
    assert set(known) == {str(kept), str(changed)} and known[str(changed)].runs == {b"x" * 40}
    # Same size, a key in it now (the modification time moves on): read again, not taken from ``known``.
    changed.write_bytes(key.encode() + b"-" * (40 - len(key)))
    os.utime(changed, ns=(known[str(changed)].mtime_ns + 1, known[str(changed)].mtime_ns + 1))
    # An unchanged file is taken from ``known``: what it says is what the scan uses.
    planted = known[str(kept)]._replace(runs=frozenset({key.encode()}))
    found = folder_runs(tmp_path, {**known, str(kept): planted})
    assert holding_key({name: entry.runs for name, entry in found.items()}, _variants(key)) == {
        str(changed), str(kept)}
    # A file added after the worker read its folder is read too.
    (tmp_path / "late.txt").write_bytes(key.lower().encode())
    assert str(tmp_path / "late.txt") in holding_key(
        {name: entry.runs for name, entry in folder_runs(tmp_path, known).items()}, _variants(key))


def test_a_file_rewritten_within_its_timestamps_grain_of_the_read_is_read_again(tmp_path: Path) -> None:
    # A worker reads a file a test (or a child process still exiting) had just written; it is rewritten at the
    # same size with a key, within the file system's timestamp grain (a clock tick; 1 s on HFS+, 2 s on FAT):
    # the modification time does not move. Before: size and time matched, the old runs were reused and the key
    # missed. Now a file modified within 3 s before it was read is read again at the end.
    key = "CM3D-ABCDE-FGHJK-MNPQR-STVWX"
    state = tmp_path / "state.json"
    state.write_bytes(b"x" * 40)
    saved = tmp_path.parent / f"{tmp_path.name}-runs.pickle"
    save_folder_runs(tmp_path, saved)
    known = load_folder_runs(saved)
    mtime = known[str(state)].mtime_ns
    state.write_bytes(key.encode() + b"-" * (40 - len(key)))
    os.utime(state, ns=(mtime, mtime))  # what a coarse timestamp gives a rewrite in the same grain
    assert holding_key({name: entry.runs for name, entry in folder_runs(tmp_path, known).items()},
                       _variants(key)) == {str(state)}
