"""After the whole suite: grep every file the app and the tests' servers wrote for any license key used.

Only the keyring's user-only fallback file (``state/secrets.json``, mode 0600) may hold a key: that file is
the secret store on machines without a keyring. Logs, ledgers, state files, offline files: never.
"""

from __future__ import annotations

import bisect
import re
import stat
from pathlib import Path

import pytest

from crystal_manager.services.context import AppContext
from tests.storage.file_keyring import STAND_IN_NAME
from tests.support.licensing import ISSUED_KEYS, issue, service
from tests.support.servers import ReferenceServer
from tests.support.workers import whole_run


def _variants(key: str) -> set[bytes]:
    body = key.removeprefix("CM3D-")
    return {key.encode(), key.lower().encode(), body.replace("-", "").encode(), body.encode()}


#: Every form of a key is a run of at least 20 letters, digits and dashes, so a key is in a file exactly when
#: it is in one of the file's longest runs of such characters. Every file is read once for its runs, which
#: are then searched for every form of every key: searching whole files for each of ~1,200 forms took over a
#: minute once the suite wrote ~900 MB (release archives, downloads and installed payloads of random filler,
#: ~10,000 small files); the runs of all small files together are ~1 MB.
_RUN_LENGTH = 20
_LARGE = 4 * 1024 * 1024
#: Each byte mapped to 1 if it can be part of a key, else 0: the runs are then found by ``bytes.find`` in C
#: (a regular expression over the same data, ``[0-9A-Za-z-]{20,}``, read only ~22 MB/s: ~70 s per run of
#: the suite; this reads ~350 MB/s).
_KEY_BYTE = bytes(int(chr(b).isascii() and (chr(b).isalnum() or chr(b) == "-")) for b in range(256))


def _runs(data: bytes) -> set[bytes]:
    """Every longest run of at least 20 letters, digits and dashes in ``data``."""
    marks = data.translate(_KEY_BYTE)
    found: set[bytes] = set()
    start = marks.find(b"\x01" * _RUN_LENGTH)
    while start != -1:
        end = marks.find(b"\x00", start)
        end = len(marks) if end == -1 else end
        found.add(data[start:end])
        start = marks.find(b"\x01" * _RUN_LENGTH, end)
    return found


def _holding_key(runs_of: dict[str, set[bytes]], needles: set[bytes]) -> set[str]:
    """The names whose runs hold any needle. All runs are joined once and each needle searched once: searching
    each file's runs for each of ~1,200 forms took ~8 s for the suite's ~15,000 small files; this, well under
    a second."""
    names: list[str] = []
    starts: list[int] = []
    parts: list[bytes] = []
    at = 0
    for name, runs in runs_of.items():
        if runs:
            part = b"\n".join(runs) + b"\n"  # a newline is in no key: no form can span two runs
            names.append(name)
            starts.append(at)
            parts.append(part)
            at += len(part)
    joined = b"".join(parts)
    found: set[str] = set()
    for needle in needles:
        where = joined.find(needle)
        while where != -1:
            found.add(names[bisect.bisect_right(starts, where) - 1])
            where = joined.find(needle, where + 1)
    return found


def _holds_key(data: bytes, needles: set[bytes]) -> bool:
    return bool(_holding_key({"data": _runs(data)}, needles))


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
    root, keys = whole_run(request.config, tmp_path_factory, ISSUED_KEYS)
    needles = set().union(*(_variants(k) for k in keys))
    scanned = 0
    runs_of: dict[str, set[bytes]] = {}
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        scanned += 1
        if path.name == "secrets.json" and path.parent.name == "state":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            continue
        if path.name == STAND_IN_NAME:  # a test's stand-in for the desktop keyring, where the key belongs
            continue
        runs_of[str(path)] = _runs(data)
    assert scanned > 10
    assert sorted(_holding_key(runs_of, needles)) == []


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
    runs_of = {"first": _runs(b"x" * 40), "upper": _runs(b"{\"k\": \"" + key.encode() + b"\"}"),
               "empty": set(), "lower": _runs(b"log " + key.lower().encode()), "none": _runs(b"y" * 30),
               "bare": _runs(body.replace("-", "").encode() + b"\n"), "last": _runs(b"- " + body.encode())}
    assert _holding_key(runs_of, _variants(key)) == {"upper", "lower", "bare", "last"}
    assert _holding_key(runs_of, _variants("CM3D-ZZZZZ-FGHJK-MNPQR-STVWX")) == set()


def test_the_runs_are_what_the_regular_expression_finds() -> None:
    import random

    rng = random.Random(5)
    alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_. \x00\xff"
    data = bytes(rng.choice(alphabet) for _ in range(200_000)) + b"CM3D-ABCDE-FGHJK-MNPQR-STVWX"
    expected = set(re.findall(rb"[0-9A-Za-z-]{20,}", data))
    assert expected and _runs(data) == expected

