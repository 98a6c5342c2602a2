"""The privacy log's lines (services.privacy_view.log_lines): one ledger entry per request stays the
record; an update check's several signed files read as one line. Table-tested over the cases that decide
where a line starts."""

from __future__ import annotations

from typing import Any

import pytest

from crystal_manager.services.privacy_view import log_lines


def req(kind: str, second: int, name: str = "", **changes: Any) -> dict[str, Any]:
    """A ledger entry as the gateway writes it, ``second`` seconds after 09:00."""
    minute, sec = divmod(second, 60)
    entry: dict[str, Any] = {"id": f"{kind}-{second}-{name}", "kind": kind, "state": "done", "status": 200,
                             "error": None, "host": "licensing.example", "trigger": "background",
                             "ts": f"2026-11-30T09:{minute:02d}:{sec:02d}+00:00", "bytes_sent": 100,
                             "fields": {"name": name} if name else {}}
    return {**entry, **changes}


def check(start: int, *, trigger: str = "background") -> list[dict[str, Any]]:
    """One update check: the next root file (not there yet), then timestamp, snapshot, targets."""
    return [req("update_metadata", start, "2.root.json", status=404, trigger=trigger),
            req("update_metadata", start + 1, "timestamp.json", trigger=trigger),
            req("update_metadata", start + 1, "snapshot.json", trigger=trigger),
            req("update_metadata", start + 2, "targets.json", trigger=trigger)]


CASES: list[tuple[str, list[dict[str, Any]], list[int]]] = [
    ("a license check is a line", [req("license_validate", 0)], [1]),
    ("an update check's four files are one line", check(0), [4]),
    ("two checks in a row are two lines (each starts at the root file)", check(0) + check(5), [4, 4]),
    ("a new root file within a check (rotation) stays in the check",
     [req("update_metadata", 0, "2.root.json"), *check(1)], [5]),
    ("a license check between two files splits the line (the order stays true)",
     [*check(0)[:2], req("license_validate", 1), *check(0)[2:]], [2, 1, 2]),
    ("files far apart in time are not one check", [*check(0)[:2], *check(600)[2:]], [2, 2]),
    ("what you asked for and what ran by itself are not one check",
     [*check(0, trigger="user")[:2], *check(0)[2:]], [2, 2]),
    ("a download after a check is a line of its own",
     [*check(0), req("update_target", 3, "crystalme3d-pro-2.4.0.tar.gz")], [4, 1]),
    ("a resumed download's parts are one line",
     [req("update_target", 0, "p.tar.gz"), req("update_target", 30, "p.tar.gz")], [2]),
    ("license requests never group", [req("license_validate", 0), req("license_validate", 1)], [1, 1]),
    ("an entry without a readable time stands alone", [check(0)[0], {**check(0)[1], "ts": "?"}], [1, 1]),
    ("no entries, no lines", [], []),
]


@pytest.mark.parametrize(("why", "entries", "sizes"), CASES, ids=[c[0] for c in CASES])
def test_where_a_line_starts(why: str, entries: list[dict[str, Any]], sizes: list[int]) -> None:
    lines = log_lines(entries)
    assert [line.count for line in lines] == sizes, why
    assert [e for line in lines for e in line.entries] == entries  # every request is still there, in order


OUTCOMES: list[tuple[str, list[dict[str, Any]], str]] = [
    ("all answered: the last one's ending", check(0), "targets.json"),
    ("nothing newer is no failure", [check(0)[0]], "2.root.json"),
    ("a check stops at a failure: that one's ending",
     [check(0)[0], {**check(0)[1], "error": "TimedOut", "status": None}], "timestamp.json"),
    ("a request never answered (interrupted) is the line's ending",
     [*check(0)[:2], {**check(0)[2], "state": "pending", "status": None}, check(0)[3]], "snapshot.json"),
    ("a refusal is the line's ending", [*check(0)[:2], {**check(0)[2], "status": 503}, check(0)[3]],
     "snapshot.json"),
]


@pytest.mark.parametrize(("why", "entries", "name"), OUTCOMES, ids=[c[0] for c in OUTCOMES])
def test_how_a_line_ended(why: str, entries: list[dict[str, Any]], name: str) -> None:
    [line] = log_lines(entries)
    assert line.outcome["fields"]["name"] == name, why


def test_a_line_adds_up_its_requests() -> None:
    [line] = log_lines(check(0))
    assert line.kind == "update_metadata" and line.count == 4 and line.bytes_sent == 400
    assert line.names == ["2.root.json", "timestamp.json", "snapshot.json", "targets.json"]
    assert line.first["ts"].startswith("2026-11-30T09:00:00")
