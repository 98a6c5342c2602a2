"""The privacy views' words (issue 10, findings 7, 15, 16): no class names or status codes in the log, each
thing sent named once, plain words in the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crystal_manager.privacy.catalog import default_catalog
from crystal_manager.services.privacy_words import as_sentences, outcome_words, sends_items
from crystal_manager.services.status import plan_words

OUTCOMES: list[tuple[dict[str, Any], str]] = [
    ({"state": "done", "error": "ConnectFailed"}, "the server could not be reached"),
    ({"state": "done", "error": "TimedOut"}, "the server did not answer in time"),
    ({"state": "done", "status": 404, "kind": "update_target"}, "the server had no such file"),
    ({"state": "done", "status": 404, "kind": "update_metadata"}, "answered: nothing newer"),
    ({"state": "done", "status": 200, "kind": "health"}, "answered"),
    ({"state": "done", "status": 503, "kind": "license_validate"}, "the server had a problem"),
    ({"state": "done", "status": 403, "kind": "license_validate"}, "refused by the server"),
    ({"state": "pending"}, "sent; no answer recorded (interrupted?)"),
]


@pytest.mark.parametrize(("entry", "words"), OUTCOMES)
def test_outcomes_in_plain_words(entry: dict[str, Any], words: str) -> None:
    said = outcome_words(entry)
    assert said == words
    assert not any(c.isdigit() for c in said) and "Failed" not in said and "TimedOut" not in said


@pytest.mark.parametrize("kind", [t.kind for t in default_catalog().types])
def test_each_thing_sent_is_named_once(kind: str) -> None:
    items = sends_items(default_catalog(), kind)
    assert sum("operating system family" in item for item in items) <= 1, items
    assert len(set(items)) == len(items)


def test_a_license_check_names_the_os_family_once_and_still_the_managers_version() -> None:
    items = sends_items(default_catalog(), "license_validate")
    assert "the Manager's version" in items
    assert any("operating system family" in item for item in items)


def test_welcome_sentences_are_short_sentences() -> None:
    sentences = as_sentences(sends_items(default_catalog(), "license_activate"))
    assert len(sentences) > 2
    assert all(s[0].isupper() and s.endswith(".") and ";" not in s for s in sentences)


def test_plans_in_words() -> None:
    assert plan_words("pro") == "Pro plan" and plan_words("studio_plus") == "Studio Plus plan"
    assert plan_words(None) == "plan unknown"


def test_catalog_words_promise_no_button_and_name_no_algorithm() -> None:
    catalog = default_catalog()
    health = catalog.get("health")
    assert health is not None and "Test connection" not in health.when and "status --check-server" in health.when
    for request_type in catalog.types:
        for spec in request_type.fields:
            assert "HMAC" not in spec.why and "SHA" not in spec.why, spec.name


def test_damaged_copies_are_named_in_words(tmp_path: Path) -> None:
    from crystal_manager.services.privacy_view import stored_files

    for name in ("settings.corrupt.json", "settings.corrupt-2.json", "license.json.damaged-20261130T050000Z",
                 "secrets.json.damaged-20261130T050000Z", "license.json"):
        (tmp_path / name).write_text("{")
    words = {Path(f["path"]).name: f["what"] for f in stored_files({"state": tmp_path})}
    assert words["settings.corrupt.json"] == words["settings.corrupt-2.json"] == \
        "a damaged copy of your settings, kept for inspection"
    assert words["license.json.damaged-20261130T050000Z"] == "a damaged copy of the license record, kept for inspection"
    assert words["secrets.json.damaged-20261130T050000Z"].startswith(
        "a damaged copy of the file holding the license key")
    assert words["license.json"].startswith("the license record")


@pytest.mark.parametrize(("state", "lease", "words"), [
    ("offline_grace", "2026-12-14T05:39:00Z", "The license keeps working offline until 14 Dec 2026, 05:39 UTC."),
    ("active", "2026-12-14T00:00:00Z", "The license keeps working offline until 14 Dec 2026."),
    ("not_activated", "2026-12-14T05:39:00Z", ""),
    ("revoked", "2026-12-14T05:39:00Z", ""),
    ("active", None, ""),
])
def test_offline_until_words(state: str, lease: str | None, words: str) -> None:
    from crystal_manager.services.license_rules import offline_until_words

    assert offline_until_words(state, lease) == words


@pytest.mark.parametrize(("kind", "words"), [
    ("license_validate", "refused: the license or this computer is not on the server's list"),
    ("license_deactivate", "refused: the license or this computer is not on the server's list"),
    ("update_metadata", "answered: nothing newer"),
    ("update_download", "the server had no such file"),
])
def test_not_found_words_by_kind(kind: str, words: str) -> None:
    """Finding 8: a licensing denial is not "the server had no such file"."""
    assert outcome_words({"kind": kind, "state": "done", "status": 404}) == words


def test_the_license_check_list_is_one_list_for_welcome_and_summary() -> None:
    """Finding 12: the Welcome's list and the Privacy page's count are the same items (a license check)."""
    from crystal_manager.services.privacy_words import activation_extra_items, license_check_items

    catalog = default_catalog()
    items = license_check_items(catalog)
    assert items == sends_items(catalog, "license_validate") and len(items) == len(set(items)) == 8
    assert "your license key" in items and "a random one-time number" in items
    extra = activation_extra_items(catalog)
    assert extra == ["the name this computer has in your list of machines", "the public half of a key made on this "
                     "computer"]
    assert not set(extra) & set(items)
