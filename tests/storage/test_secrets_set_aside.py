"""A damaged secrets file set aside is kept for support: never overwritten by a later copy of the same second,
and a valid file is never taken for the damage (issue 11). Real files, no keyring."""

from __future__ import annotations

from pathlib import Path

from crystal_manager.storage.secrets import FileBackend, set_aside

STAMP = "20261130T144856Z"


def test_two_damaged_files_in_one_second_keep_two_copies(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.json"
    secrets.write_bytes(b"\x00garbage{{")
    first = set_aside(secrets, now=STAMP)
    secrets.write_bytes(b"[1, 2]")  # damaged again (not an object) within the same second
    second = set_aside(secrets, now=STAMP)
    assert first is not None and second is not None and first != second
    # Before: os.replace put the second damage over the first copy, and the first damage was lost.
    assert first.read_bytes() == b"\x00garbage{{" and second.read_bytes() == b"[1, 2]"
    assert second.name == f"secrets.json.damaged-{STAMP}-2"
    assert not secrets.exists() and all(p.stat().st_mode & 0o777 == 0o600 for p in (first, second))


def test_a_valid_file_written_since_the_failed_read_is_not_set_aside(tmp_path: Path) -> None:
    # What a check finds when another thread set the damage aside and stored a secret after its failed read.
    secrets = tmp_path / "secrets.json"
    FileBackend(secrets).set("license_guard", '{"v": 1}')
    assert set_aside(secrets, now=STAMP) is None
    assert FileBackend(secrets).get("license_guard") == '{"v": 1}'
    assert list(tmp_path.glob("secrets.json.damaged-*")) == []


def test_a_file_already_set_aside_is_not_an_error(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.json"
    secrets.write_bytes(b"{")
    kept = set_aside(secrets, now=STAMP)
    assert set_aside(secrets, now=STAMP) is None  # before: FileNotFoundError from the second check
    assert kept is not None and kept.read_bytes() == b"{"
    assert [p.name for p in tmp_path.glob("secrets.json.damaged-*")] == [kept.name]
