"""The ledger: append, mask, rotate, survive a torn line, and concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from crystal_manager.privacy.ledger import Ledger, mask_secret


def test_append_and_read_back(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append({"kind": "health", "n": 1})
    ledger.append({"kind": "health", "n": 2})
    assert [e["n"] for e in ledger.entries()] == [1, 2]
    assert (tmp_path / "ledger.jsonl").stat().st_mode & 0o077 == 0


def test_mask_secret_keeps_only_last_four() -> None:
    assert mask_secret("CM3D-ABCDE-FGHIJ-7F3A") == "…7F3A"
    assert mask_secret("abc") == "…"


def test_torn_last_line_is_cut_before_next_append(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.append({"n": 1})
    with open(path, "ab") as handle:
        handle.write(b'{"n": 2, "kind": "hea')  # a crash mid-write
    assert [e["n"] for e in ledger.entries()] == [1]
    ledger.append({"n": 3})
    lines = path.read_bytes().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 3]


def test_rotation_caps_size_and_keeps_order(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl", max_bytes=400, keep=2)
    for n in range(40):
        ledger.append({"n": n, "pad": "x" * 40})
    files = ledger.files()
    assert len(files) == 3
    assert all(f.stat().st_size <= 400 for f in files)
    numbers = [e["n"] for e in ledger.entries()]
    assert numbers == sorted(numbers) and numbers[-1] == 39 and numbers[0] > 0


def _writer(path: str, worker: int) -> None:
    ledger = Ledger(Path(path), max_bytes=10_000_000)
    for n in range(200):
        ledger.append({"worker": worker, "n": n, "pad": "y" * 300})


def test_concurrent_processes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    procs = [multiprocessing.get_context("spawn").Process(target=_writer, args=(str(path), w)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    lines = path.read_bytes().splitlines()
    assert len(lines) == 600
    parsed = [json.loads(line) for line in lines]
    for worker in range(3):
        assert [p["n"] for p in parsed if p["worker"] == worker] == list(range(200))


def test_deeply_nested_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.append({"n": 1})
    with open(path, "ab") as handle:
        handle.write(b"[" * 200_000 + b"\n")
    ledger.append({"n": 2})
    assert [e["n"] for e in ledger.entries()] == [1, 2]
