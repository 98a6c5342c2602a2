"""The offer policy and the entitlement rules, table by table (pure functions: no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from crystal_manager.config.settings import UPDATE_CHANNELS
from crystal_manager.services.update_types import CheckResult
from crystal_manager.updates import entitlement
from crystal_manager.updates.entitlement import LicenseFacts
from crystal_manager.updates.policy import Candidate, describe, evaluate, visible_channels
from crystal_protocol.releases import CHANNELS, PRODUCT, ReleaseInfo

PLATFORM = "linux-x86_64"
ACTIVE = LicenseFacts(state="active", max_version=None, expires_at=None)
SHA = "ab" * 32


def release(version: str, *, channel: str = "stable", product: str = PRODUCT, platform: str = PLATFORM,
            released: str = "2026-06-01T12:00:00Z", critical: bool = False, min_manager: str | None = None,
            name: str | None = None, sha: str | None = SHA, length: int = 1000,
            custom: Any = None) -> Candidate:
    info = {"product": product, "version": version, "platform": platform, "channel": channel,
            "released_at": released, "notes": f"notes {version}", "min_manager": min_manager, "critical": critical}
    return Candidate(target_name=name or f"{product}-{version}-{platform}.tar.gz", length=length, sha256=sha,
                     custom=info if custom is None else custom)


def run(candidates: list[Candidate], *, installed: str | None = "1.0.0", channel: str = "stable",
        skipped: tuple[str, ...] = (), manager: str = "0.1.0", license: LicenseFacts = ACTIVE) -> CheckResult:
    return evaluate(candidates, installed=installed, channel=channel, skipped=skipped, manager_version=manager,
                    license=license, checked_at="2026-07-01T00:00:00Z", signed_by=("k1",), metadata_version=3,
                    platform=PLATFORM)


# (id, releases, keyword arguments, offered version, newest version, reason)
ROWS: list[tuple[str, list[Candidate], dict[str, Any], str | None, str | None, str]] = [
    ("nothing published", [], {}, None, None, "no_releases"),
    ("one newer", [release("1.1.0")], {}, "1.1.0", "1.1.0", "offered"),
    ("newest of several", [release("1.1.0"), release("1.3.0"), release("1.2.0")], {}, "1.3.0", "1.3.0", "offered"),
    ("installed is newest", [release("1.0.0")], {}, None, None, "up_to_date"),
    ("older offered as new is ignored", [release("0.9.0")], {}, None, None, "up_to_date"),
    ("nothing installed: newest offered", [release("0.9.0"), release("1.0.0")], {"installed": None},
     "1.0.0", "1.0.0", "offered"),
    ("unreadable installed version: newest offered", [release("1.2.0")], {"installed": "garbage"},
     "1.2.0", "1.2.0", "offered"),
    ("other product never", [release("2.0.0", product="other-app")], {}, None, None, "no_releases"),
    ("other platform never", [release("2.0.0", platform="windows-x86_64")], {}, None, None, "no_releases"),
    ("other platform beside ours", [release("2.0.0", platform="macos-arm64"), release("1.1.0")], {},
     "1.1.0", "1.1.0", "offered"),
    ("stable does not see beta", [release("1.2.0-beta.1", channel="beta"), release("1.1.0")], {},
     "1.1.0", "1.1.0", "offered"),
    ("stable with only beta", [release("1.2.0-beta.1", channel="beta")], {}, None, None, "no_releases"),
    ("beta sees beta", [release("1.2.0-beta.1", channel="beta"), release("1.1.0")], {"channel": "beta"},
     "1.2.0-beta.1", "1.2.0-beta.1", "offered"),
    ("beta sees stable newer than beta", [release("1.2.0-beta.1", channel="beta"), release("1.2.0")],
     {"channel": "beta"}, "1.2.0", "1.2.0", "offered"),
    ("skipped newest: next one offered", [release("1.1.0"), release("1.2.0")], {"skipped": ("1.2.0",)},
     "1.1.0", "1.2.0", "offered"),
    ("skipped only one", [release("1.2.0")], {"skipped": ("1.2.0",)}, None, "1.2.0", "skipped"),
    ("critical cannot be skipped", [release("1.2.0", critical=True)], {"skipped": ("1.2.0",)},
     "1.2.0", "1.2.0", "offered"),
    ("skip does not hide a newer one", [release("1.3.0"), release("1.2.0")], {"skipped": ("1.2.0",)},
     "1.3.0", "1.3.0", "offered"),
    ("needs newer manager", [release("1.2.0", min_manager="9.0.0")], {}, None, "1.2.0", "needs_newer_manager"),
    ("manager new enough", [release("1.2.0", min_manager="0.1.0")], {}, "1.2.0", "1.2.0", "offered"),
    ("older release fits the manager", [release("1.2.0", min_manager="9.0.0"), release("1.1.0")], {},
     "1.1.0", "1.2.0", "offered"),
    ("max_version allows 2.9.x", [release("2.9.4")], {"license": LicenseFacts("active", "2.9", None)},
     "2.9.4", "2.9.4", "offered"),
    ("max_version refuses 3.0.0", [release("3.0.0")], {"license": LicenseFacts("active", "2.9", None)},
     None, "3.0.0", "not_entitled"),
    ("max_version: newest allowed", [release("3.0.0"), release("2.9.1")],
     {"license": LicenseFacts("active", "2.9", None)}, "2.9.1", "3.0.0", "offered"),
    ("max_version refuses a 3.0 pre-release", [release("3.0.0-beta.1", channel="beta")],
     {"license": LicenseFacts("active", "2.9", None), "channel": "beta"}, None, "3.0.0-beta.1", "not_entitled"),
    ("released after the end", [release("1.2.0", released="2026-02-01T00:00:00Z")],
     {"license": LicenseFacts("active", None, "2026-01-01T00:00:00Z")}, None, "1.2.0", "not_entitled"),
    ("released before the end", [release("1.2.0", released="2025-12-31T23:59:59Z")],
     {"license": LicenseFacts("active", None, "2026-01-01T00:00:00Z")}, "1.2.0", "1.2.0", "offered"),
    ("no license", [release("1.2.0")], {"license": LicenseFacts()}, None, "1.2.0", "not_entitled"),
    ("locked license", [release("1.2.0")], {"license": LicenseFacts("locked")}, None, "1.2.0", "not_entitled"),
    ("expired license", [release("1.2.0")], {"license": LicenseFacts("expired")}, None, "1.2.0", "not_entitled"),
    ("revoked license", [release("1.2.0")], {"license": LicenseFacts("revoked")}, None, "1.2.0", "not_entitled"),
    ("trial gets updates", [release("1.2.0")], {"license": LicenseFacts("trial")}, "1.2.0", "1.2.0", "offered"),
    ("offline grace gets updates", [release("1.2.0")], {"license": LicenseFacts("offline_grace")},
     "1.2.0", "1.2.0", "offered"),
    ("malformed custom ignored", [release("1.5.0", custom={"version": "1.5.0"}), release("1.1.0")], {},
     "1.1.0", "1.1.0", "offered"),
    ("custom not an object ignored", [release("1.5.0", custom=["x"])], {}, None, None, "no_releases"),
    ("bad channel ignored", [release("1.5.0", channel="nightly")], {"channel": "beta"}, None, None, "no_releases"),
    ("bad date ignored", [release("1.5.0", released="yesterday")], {}, None, None, "no_releases"),
    ("name disagrees with facts", [release("1.5.0", name=f"{PRODUCT}-1.1.0-{PLATFORM}.tar.gz")], {},
     None, None, "no_releases"),
    ("name is a path", [release("1.5.0", name=f"../{PRODUCT}-1.5.0-{PLATFORM}.tar.gz")], {},
     None, None, "no_releases"),
    ("no sha256 ignored", [release("1.5.0", sha=None)], {}, None, None, "no_releases"),
    ("bad sha256 ignored", [release("1.5.0", sha="xyz")], {}, None, None, "no_releases"),
    ("empty file ignored", [release("1.5.0", length=0)], {}, None, None, "no_releases"),
    ("zstd archive", [release("1.5.0", name=f"{PRODUCT}-1.5.0-{PLATFORM}.tar.zst")], {}, "1.5.0", "1.5.0",
     "offered"),
    ("pre-release sorts before its release", [release("2.0.0-rc.1", channel="beta"), release("2.0.0")],
     {"channel": "beta"}, "2.0.0", "2.0.0", "offered"),
    ("installed pre-release gets the release", [release("2.0.0")], {"installed": "2.0.0-rc.1"},
     "2.0.0", "2.0.0", "offered"),
    ("skip + entitlement: skipped newest, older not entitled", [release("3.1.0"), release("3.0.0")],
     {"skipped": ("3.1.0",), "license": LicenseFacts("active", "2.9", None)}, None, "3.1.0", "skipped"),
]


@pytest.mark.parametrize(("releases", "kwargs", "offered", "newest", "reason"),
                         [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_policy_table(releases: list[Candidate], kwargs: dict[str, Any], offered: str | None,
                      newest: str | None, reason: str) -> None:
    result = run(releases, **kwargs)
    assert (result.offer.version if result.offer else None) == offered
    assert (result.newest.version if result.newest else None) == newest
    assert result.reason == reason
    assert result.signed_by == ("k1",) and result.metadata_version == 3
    if result.offer is not None:
        assert result.offer.notes == f"notes {offered}" and result.offer.size == 1000
    if result.newest is None:
        assert result.entitlement.allowed and result.entitlement.code == "ok"


# (id, facts, version, released_at, allowed, code, words in the reason)
ENTITLEMENT_ROWS: list[tuple[str, LicenseFacts, str, str, bool, str, str]] = [
    ("active, no limits", ACTIVE, "5.0.0", "2030-01-01T00:00:00Z", True, "ok", ""),
    ("under max", LicenseFacts("active", "2.9"), "2.9.9", "2026-01-01T00:00:00Z", True, "ok", ""),
    ("over max", LicenseFacts("active", "2.9"), "3.0.0", "2026-01-01T00:00:00Z", False, "max_version",
     "Your license covers versions up to 2.9; 3.0.0 needs an upgrade."),
    ("max of one number", LicenseFacts("active", "2"), "2.99.0", "2026-01-01T00:00:00Z", True, "ok", ""),
    ("max of one number refuses 3", LicenseFacts("active", "2"), "3.0.0", "2026-01-01T00:00:00Z", False,
     "max_version", "up to 2;"),
    ("max of three numbers", LicenseFacts("active", "2.9.3"), "2.9.4", "2026-01-01T00:00:00Z", False,
     "max_version", "2.9.4 needs an upgrade"),
    ("unreadable max fails closed", LicenseFacts("active", "two"), "1.0.0", "2026-01-01T00:00:00Z", False,
     "max_version", "could not be read"),
    ("after the end", LicenseFacts("active", None, "2026-01-01T00:00:00Z"), "1.0.0", "2026-01-02T00:00:00Z",
     False, "released_after_end", "Released after your subscription ended on 2026-01-01; renew to get it."),
    ("on the end", LicenseFacts("active", None, "2026-01-01T00:00:00Z"), "1.0.0", "2026-01-01T00:00:00Z",
     True, "ok", ""),
    ("unreadable end fails closed", LicenseFacts("active", None, "soon"), "1.0.0", "2026-01-01T00:00:00Z",
     False, "released_after_end", "could not be read"),
    ("not activated", LicenseFacts(), "1.0.0", "2026-01-01T00:00:00Z", False, "no_license", "activate"),
    ("locked", LicenseFacts("locked"), "1.0.0", "2026-01-01T00:00:00Z", False, "license_locked", "locked"),
    ("expired", LicenseFacts("expired"), "1.0.0", "2026-01-01T00:00:00Z", False, "license_locked", "expired"),
    ("revoked", LicenseFacts("revoked"), "1.0.0", "2026-01-01T00:00:00Z", False, "license_locked", "revoked"),
    ("unknown state fails closed", LicenseFacts("weird"), "1.0.0", "2026-01-01T00:00:00Z", False,
     "license_locked", "not valid"),
]


@pytest.mark.parametrize(("facts", "version", "released", "allowed", "code", "words"),
                         [row[1:] for row in ENTITLEMENT_ROWS], ids=[row[0] for row in ENTITLEMENT_ROWS])
def test_entitlement_table(facts: LicenseFacts, version: str, released: str, allowed: bool, code: str,
                           words: str) -> None:
    info = ReleaseInfo(product=PRODUCT, version=version, platform=PLATFORM, channel="stable", released_at=released)
    answer = entitlement.check(info, facts)
    assert (answer.allowed, answer.code) == (allowed, code)
    assert words in answer.reason
    assert bool(answer.reason) != allowed  # a refusal always says why; an allowance says nothing


def test_channels() -> None:
    assert visible_channels("beta") == ("stable", "beta")
    assert visible_channels("stable") == ("stable",)
    assert visible_channels("anything else") == ("stable",)
    assert UPDATE_CHANNELS == CHANNELS  # settings keeps its own copy to start fast


@pytest.mark.parametrize(("releases", "kwargs", "words"), [
    ([release("1.1.0")], {}, "Version 1.1.0 is available."),
    ([release("1.1.0", critical=True)], {}, "critical update"),
    ([release("3.0.0"), release("2.9.1")], {"license": LicenseFacts("active", "2.9")},
     "Version 3.0.0 also exists: Your license covers versions up to 2.9"),
    ([], {}, "No release is published yet"),
    ([release("1.0.0")], {}, "up to date"),
    ([release("1.2.0")], {"skipped": ("1.2.0",)}, "you chose to skip it"),
    ([release("1.2.0", min_manager="9.0.0")], {}, "needs CrystalMe3D Pro Manager 9.0.0 or newer"),
    ([release("1.2.0")], {"license": LicenseFacts("active", "1.1")}, "not included in your license"),
    ([release("1.2.0")], {"license": LicenseFacts()}, "available, but this computer has no activated license"),
    ([release("1.2.0")], {"license": LicenseFacts("locked")}, "available, but your license is locked"),
])
def test_describe_in_plain_words(releases: list[Candidate], kwargs: dict[str, Any], words: str) -> None:
    text = describe(run(releases, **kwargs), "0.1.0")
    assert words in text
    assert "_" not in text  # no snake_case codes leak into words


def test_duplicate_version_picks_one_deterministically() -> None:
    gz = release("1.2.0")
    zst = release("1.2.0", name=f"{PRODUCT}-1.2.0-{PLATFORM}.tar.zst")
    first = run([gz, zst]).offer
    second = run([zst, gz]).offer
    assert first is not None and first == second
