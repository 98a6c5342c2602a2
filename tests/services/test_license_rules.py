"""The one rule per license fact, over every license state: who needs to act, which dates apply, the words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crystal_manager.desktop.tray_state import LOCKED_LICENSE_STATES
from crystal_manager.licensing.evaluate import STATES
from crystal_manager.services.license_rules import (
    ALL_STATES,
    dates_for,
    has_ended,
    human_time,
    is_activated,
    needs_activation,
    state_words,
)
from crystal_manager.services.status import LicenseStatus

FULL = LicenseStatus(state="active", plan="pro", expires_at="2099-12-31T00:00:00Z", renews_at="2027-03-20T00:00:00Z",
                     trial_days_left=5, grace_days_left=4.5, last_verified_at="2026-03-09T10:15:00Z",
                     next_check_at="2026-03-10T09:40:00Z")

# state: (needs activation, activated, ended, renews shown, ends shown, trial, grace, next check, never verified)
TABLE: dict[str, tuple[bool, bool, bool, bool, bool, bool, bool, bool]] = {
    "not_activated": (True, False, False, False, False, False, False, False),
    "active": (False, True, False, True, False, False, False, True),
    "trial": (False, True, False, True, False, True, False, True),
    "offline_grace": (False, True, False, True, False, False, True, True),
    "locked": (True, True, False, True, False, False, False, True),
    "expired": (True, True, True, False, True, False, False, False),
    "revoked": (True, True, True, False, True, False, False, False),
}


def test_the_table_covers_every_state_the_engine_returns() -> None:
    assert set(ALL_STATES) == set(STATES) == set(TABLE)
    assert {s for s in ALL_STATES if needs_activation(s)} == LOCKED_LICENSE_STATES  # the tray asks the same rule


@pytest.mark.parametrize("state", ALL_STATES)
def test_one_rule_per_state(state: str) -> None:
    needs, activated, ended, renews, ends, trial, grace, next_check = TABLE[state]
    assert (needs_activation(state), is_activated(state), has_ended(state)) == (needs, activated, ended)
    when = dates_for(replace(FULL, state=state))
    assert (when.renews_at is not None, when.ends_at is not None) == (renews, ends)
    assert (when.trial_days_left is not None, when.grace_days_left is not None) == (trial, grace)
    assert (when.next_check_at is not None) == next_check
    assert (when.last_verified_at is not None) == activated
    never = dates_for(replace(FULL, state=state, last_verified_at=None))
    assert never.never_verified == activated
    words = state_words(state)
    assert "_" not in words and words[0].isupper()


def test_revoked_needs_activation_everywhere() -> None:
    # two of the four old copies of this rule forgot "revoked"
    assert needs_activation("revoked") and needs_activation("expired") and needs_activation("locked")


def test_an_end_date_shows_when_nothing_renews() -> None:
    assert dates_for(replace(FULL, renews_at=None)).ends_at == FULL.expires_at


@pytest.mark.parametrize(("stamp", "words"), [
    ("2099-12-31T00:00:00Z", "31 Dec 2099"), ("2026-11-25T13:03:56Z", "25 Nov 2026, 13:03 UTC"),
    (None, None), ("garbage", "garbage")])
def test_times_for_people(stamp: str | None, words: str | None) -> None:
    assert human_time(stamp) == words
