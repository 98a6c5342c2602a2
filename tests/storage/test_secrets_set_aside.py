"""A damaged secrets file set aside is kept for support: never overwritten by a later copy of the same second,
and a valid file is never taken for the damage (issue 11). Real files, no keyring."""

from __future__ import annotations

import errno
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import pytest

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


# --- Another process (the CLI beside the GUI) setting aside the same damage at once (issue 11 review) ---

DAMAGE = b"{damaged"


def _set_aside_rounds(folder: Path, rounds: int, barrier: Any, results: Any, writes: bool) -> None:
    """One process's part: each round, set aside that round's damaged file as soon as both are ready; the
    writing one then stores a key in a new file, as re-activation in the GUI does."""
    problems: list[str] = []
    for n in range(rounds):
        secrets = folder / f"round-{n}" / "secrets.json"
        barrier.wait()
        try:
            if set_aside(secrets, now=STAMP) is not None and writes:
                FileBackend(secrets).set("license_key", "KEY")
                (secrets.parent / "key-written").touch()
        except Exception as exc:  # reported to the test, which names the round
            problems.append(f"round {n}: {type(exc).__name__}: {exc}")
    results.put(problems)


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork to start both processes at once cheaply")
def test_two_processes_setting_aside_the_same_damage_at_once(tmp_path: Path) -> None:
    # Before: the thread lock did not reach the other process; its os.link or os.unlink found the name gone
    # (FileNotFoundError: the status or the License page failed) in up to a third of the rounds, and its os.unlink could
    # delete the new valid file the first process wrote after its own set-aside.
    rounds = 400
    for n in range(rounds):
        (tmp_path / f"round-{n}").mkdir()
        (tmp_path / f"round-{n}" / "secrets.json").write_bytes(DAMAGE)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2, timeout=60)
    results = ctx.Queue()
    procs = [ctx.Process(target=_set_aside_rounds, args=(tmp_path, rounds, barrier, results, i == 0))
             for i in range(2)]
    for proc in procs:
        proc.start()
    problems = [p for _ in procs for p in results.get(timeout=120)]
    for proc in procs:
        proc.join(timeout=60)
    assert problems == []
    for n in range(rounds):
        folder = tmp_path / f"round-{n}"
        copies = list(folder.glob("secrets.json.damaged-*"))
        assert copies and all(c.read_bytes() == DAMAGE and c.stat().st_mode & 0o777 == 0o600 for c in copies)
        if (folder / "key-written").exists():
            assert FileBackend(folder / "secrets.json").get("license_key") == "KEY", f"round {n}: key lost"
        assert not list(folder.glob("*.setting-aside-*"))


def test_without_hard_links_the_damage_is_still_set_aside(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A home on a FAT stick or some network shares: link() fails with EPERM (what vfat answers). Before: that
    # error left the damaged file in place, so the key could never be stored again (every set fails to read).
    def no_links(src: object, dst: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted", str(dst))

    secrets = tmp_path / "secrets.json"
    secrets.write_bytes(DAMAGE)
    (tmp_path / f"secrets.json.damaged-{STAMP}").write_bytes(b"earlier damage")
    monkeypatch.setattr(os, "link", no_links)
    kept = set_aside(secrets, now=STAMP)
    assert kept == tmp_path / f"secrets.json.damaged-{STAMP}-2" and kept.read_bytes() == DAMAGE
    assert kept.stat().st_mode & 0o777 == 0o600 and not secrets.exists()
    assert (tmp_path / f"secrets.json.damaged-{STAMP}").read_bytes() == b"earlier damage"
    FileBackend(secrets).set("license_key", "KEY")
    assert FileBackend(secrets).get("license_key") == "KEY"


def test_a_copy_of_a_file_others_could_read_is_user_only_from_the_start(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.json"
    secrets.write_bytes(DAMAGE)
    secrets.chmod(0o644)
    kept = set_aside(secrets, now=STAMP)
    assert kept is not None and kept.stat().st_mode & 0o777 == 0o600


def _store_rounds(folder: Path, rounds: int, barrier: Any, name: str) -> None:
    for n in range(rounds):
        barrier.wait()
        FileBackend(folder / f"round-{n}" / "state" / "secrets.json").set(name, f"{name}-value")


@pytest.mark.skipif(sys.platform == "win32", reason="the folder lock is POSIX's flock (Windows: this process only)")
def test_two_processes_storing_secrets_at_once_keep_both(tmp_path: Path) -> None:
    # The CLI's activation stores the key while the GUI saves its clock guard: each read the file, added its
    # secret and wrote it back. Before: the second write dropped the first one's secret, the license key in
    # about half of the rounds (the thread lock does not reach the other process).
    rounds = 100
    for n in range(rounds):
        FileBackend(tmp_path / f"round-{n}" / "state" / "secrets.json").set("machine_token", "token")
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2, timeout=60)
    procs = [ctx.Process(target=_store_rounds, args=(tmp_path, rounds, barrier, name))
             for name in ("license_key", "license_guard")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    names = ("machine_token", "license_key", "license_guard")
    lost = [(n, name) for n in range(rounds) for name in names
            if FileBackend(tmp_path / f"round-{n}" / "state" / "secrets.json").get(name) is None]
    assert lost == []
    assert not list(tmp_path.glob("round-0/state/*.lock")) and not list(tmp_path.glob("round-0/*.lock"))
