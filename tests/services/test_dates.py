"""One date format for every face (issue 10, finding 20): services.dates.date_words."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from crystal_manager.services.dates import date_words


@pytest.fixture
def berlin() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


TABLE: list[tuple[str | None, dict[str, bool], str]] = [
    ("2026-11-30T00:00:00Z", {}, "30 Nov 2026"),
    ("2026-11-30T12:05:00Z", {"local": False}, "30 Nov 2026, 12:05 UTC"),
    ("2026-11-30T12:05:00Z", {"local": False, "with_time": False}, "30 Nov 2026"),
    ("2026-11-30T12:05:00Z", {}, "30 Nov 2026, 13:05"),  # local time (Berlin, UTC+1)
    ("2099-12-31T00:00:00Z", {}, "31 Dec 2099"),  # a plain date never moves to the day before
    ("2026-03-09", {}, "9 Mar 2026"),
    (None, {}, "never"),
    ("soon", {}, "soon"),
]


@pytest.mark.parametrize(("stamp", "options", "words"), TABLE)
def test_one_format(berlin: None, stamp: str | None, options: dict[str, bool], words: str) -> None:
    assert date_words(stamp, with_time=options.get("with_time"), local=options.get("local", True)) == words


def test_cli_and_update_words_use_it() -> None:
    from crystal_manager.cli.commands import update
    from crystal_manager.services.license_rules import human_time

    assert update.__dict__["date_words"] is date_words
    assert human_time("2026-11-30T00:00:00Z") == date_words("2026-11-30T00:00:00Z")
    assert date_words(datetime(2026, 11, 30, 9, 7, tzinfo=UTC), local=False) == "30 Nov 2026, 09:07 UTC"
