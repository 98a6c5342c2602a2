"""Release facts shared by server and app: version order, manifest and release-record validation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crystal_protocol.releases import (
    ProductManifest,
    ReleaseFormatError,
    ReleaseInfo,
    Version,
    current_platform,
    target_name,
)

SEMVER_ORDER = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"]


def test_versions_sort_as_semver_says() -> None:
    parsed = [Version.parse(v) for v in SEMVER_ORDER]
    assert sorted(reversed(parsed)) == parsed
    assert [str(v) for v in parsed] == SEMVER_ORDER


@pytest.mark.parametrize("text", ["", "1", "1.2", "01.2.3", "1.2.3.4", "v1.2.3", "1.2.3-", "1.2.3-be ta",
                                  "1.2.3+build", " 1.2.3", "1.2.3\n", "9999999.0.0"])
def test_malformed_versions_are_refused(text: str) -> None:
    with pytest.raises(ReleaseFormatError):
        Version.parse(text)


@given(st.tuples(*(st.integers(0, 999),) * 3), st.tuples(*(st.integers(0, 999),) * 3))
def test_order_of_plain_versions_is_the_order_of_their_numbers(a: tuple[int, int, int],
                                                               b: tuple[int, int, int]) -> None:
    va, vb = Version.parse(".".join(map(str, a))), Version.parse(".".join(map(str, b)))
    assert (va < vb) == (a < b) and (va == vb) == (a == b)


def _manifest(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"product": "crystalme3d-pro", "version": "1.2.0", "platform": "linux-x86_64",
                            "health_check": ["bin/crystalme3d", "--version"]}
    data.update(changes)
    return data


def test_a_good_manifest_round_trips() -> None:
    manifest = ProductManifest.from_json(_manifest())
    assert ProductManifest.from_json(manifest.to_json()) == manifest
    assert manifest.health_check == ("bin/crystalme3d", "--version")


@pytest.mark.parametrize("changes", [
    {"health_check": ["/bin/sh", "-c", "true"]},
    {"health_check": ["../outside", "--version"]},
    {"health_check": []},
    {"health_check": "bin/crystalme3d --version"},
    {"product": "Crystal Pro"},
    {"version": "latest"},
    {"platform": "linux"},
    {"product": None},
])
def test_bad_manifests_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ReleaseFormatError):
        ProductManifest.from_json(_manifest(**changes))


def _release(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"product": "crystalme3d-pro", "version": "1.2.0", "platform": "linux-x86_64",
                            "channel": "stable", "released_at": "2026-11-30T12:00:00Z", "notes": "Faster.",
                            "min_manager": None, "critical": False}
    data.update(changes)
    return data


def test_release_info_round_trips() -> None:
    info = ReleaseInfo.from_custom(_release(critical=True, min_manager="0.1.0"))
    assert ReleaseInfo.from_custom(info.to_custom()) == info and info.critical


@pytest.mark.parametrize("changes", [
    {"channel": "nightly"}, {"released_at": "yesterday"}, {"critical": "yes"}, {"notes": 3},
    {"min_manager": "new"}, {"version": "1.2"}, {"released_at": "2026-11-30T12:00:00Z\n"},
    {"platform": "linux-x86_64\n"},
])
def test_bad_release_records_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ReleaseFormatError):
        ReleaseInfo.from_custom(_release(**changes))


def test_target_names_are_flat_and_checked() -> None:
    assert target_name("crystalme3d-pro", "1.2.0", "linux-x86_64", ".tar.gz") == \
        "crystalme3d-pro-1.2.0-linux-x86_64.tar.gz"
    with pytest.raises(ReleaseFormatError):
        target_name("crystalme3d-pro", "1.2.0", "linux-x86_64", ".zip")
    with pytest.raises(ReleaseFormatError):
        target_name("../x", "1.2.0", "linux-x86_64", ".tar")
    assert "/" not in current_platform() and "-" in current_platform()
