"""Atomic state files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crystal_manager.storage.atomic import CorruptStateError, read_json, write_json_atomic


def test_round_trip_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    write_json_atomic(path, {"a": 1})
    assert read_json(path) == {"a": 1}
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_missing_is_none(tmp_path: Path) -> None:
    assert read_json(tmp_path / "nope.json") is None


def test_corrupt_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(CorruptStateError):
        read_json(path)
    assert path.read_text() == "{not json"


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_deeply_nested_file_is_corrupt_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("[" * 200_000)
    with pytest.raises(CorruptStateError):
        read_json(path)
    assert path.read_text() == "[" * 200_000
