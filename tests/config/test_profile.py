"""Trust profiles: built-in production anchors, development profiles, URL precedence, bad files (each member's
rule by table)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from crystal_manager.config.profile import (
    READERS,
    Profile,
    ProfileError,
    builtin_profile,
    load_profile_file,
    select_profile,
)


def test_builtin_is_production_with_a_key() -> None:
    profile = builtin_profile()
    assert profile.production and profile.name == "production"
    assert profile.server_url.startswith("https://")
    assert all(len(k) == 32 for k in profile.license_keys.values())


def test_dev_profile_from_server_init(server_dir: Path) -> None:
    profile = load_profile_file(server_dir / "profile.json")
    assert not profile.production and profile.server_url.startswith("http://127.0.0.1:")


def test_url_precedence(server_dir: Path) -> None:
    file = str(server_dir / "profile.json")
    env = {"CRYSTAL_MANAGER_SERVER": "https://env.example"}
    assert select_profile(profile_file=file, server_url="https://flag.example", settings_url="https://s.example",
                          environ=env).server_url == "https://flag.example"
    assert select_profile(profile_file=file, server_url=None, settings_url="https://s.example",
                          environ=env).server_url == "https://env.example"
    assert select_profile(profile_file=file, server_url=None, settings_url="https://s.example",
                          environ={}).server_url == "https://s.example"
    assert select_profile(profile_file=None, server_url=None, settings_url=None,
                          environ={"CRYSTAL_MANAGER_PROFILE": file}).name == "development"


@pytest.mark.parametrize("content, message", [
    ("not json", "cannot read profile"),
    ("[]", "JSON object"),
    ('{"name": "x", "server_url": "http://127.0.0.1"}', "missing field 'license_keys'"),
    ('{"name": "x", "server_url": "u", "license_keys": {"k": "!!"}}', "not base64"),
    ('{"name": "x", "server_url": "u", "license_keys": {"k": "AAAA"}}', "32-byte"),
])
def test_bad_profiles_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message):
        load_profile_file(path)


def test_missing_profile(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profile_file(tmp_path / "absent.json")


def test_profile_keys_are_not_taken_from_elsewhere(server_dir: Path) -> None:
    data = json.loads((server_dir / "profile.json").read_text())
    profile = load_profile_file(server_dir / "profile.json")
    assert set(profile.license_keys) == set(data["license_keys"])


# -- each member's rule (profile.READERS), by table ----------------------------------------------------------
KEY = base64.b64encode(bytes(range(32))).decode()
GOOD: dict[str, Any] = {"name": "development", "server_url": "http://127.0.0.1:8000/", "license_keys": {"k1": KEY}}


def test_the_readers_are_the_profiles_members() -> None:
    """Every Profile member but ``source`` (where it was read) is read by a rule, and only they are."""
    assert {*READERS, "source"} == set(Profile._fields)


TABLE: list[tuple[str, dict[str, Any], str | None]] = [  # what changes, and the problem (None: taken)
    ("the least", {}, None),
    ("every member", {"production": True, "tuf_root": {"signed": {}}, "tls_ca_file": "ca.pem"}, None),
    ("a newer version's member", {"mirrors": ["https://m.example"]}, None),
    ("a null root", {"tuf_root": None}, None),
    ("no name", {"name": ...}, "missing field 'name'"),
    ("no URL", {"server_url": ...}, "missing field 'server_url'"),
    ("no keys", {"license_keys": ...}, "missing field 'license_keys'"),
    ("no member at all", {"name": ..., "server_url": ..., "license_keys": ...}, "missing field 'name'"),
    ("empty keys", {"license_keys": {}}, "license_keys must map key ids to public keys"),
    ("a list of keys", {"license_keys": [KEY]}, "license_keys must map key ids to public keys"),
    ("a key not in base64", {"license_keys": {"k1": "!!"}}, "key 'k1' is not base64"),
    ("a short key", {"license_keys": {"k1": "AAAA"}}, "key 'k1' is not a 32-byte Ed25519 public key"),
    ("a root that is a list", {"tuf_root": []}, "tuf_root must be root metadata"),
]


@pytest.mark.parametrize(("change", "problem"), [(c, p) for _, c, p in TABLE], ids=[t[0] for t in TABLE])
def test_a_profile_file_is_taken_or_refused_with_the_member_named(tmp_path: Path, change: dict[str, Any],
                                                                  problem: str | None) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({k: v for k, v in {**GOOD, **change}.items() if v is not ...}))
    if problem is not None:
        with pytest.raises(ProfileError, match=re.escape(problem)):
            load_profile_file(path)
        return
    profile = load_profile_file(path)
    assert profile.server_url == "http://127.0.0.1:8000" and profile.license_keys == {"k1": bytes(range(32))}
    assert profile.production is change.get("production", False)
    assert profile.tuf_root == change.get("tuf_root")
    assert profile.tls_ca_file == (tmp_path / "ca.pem" if "tls_ca_file" in change else None)
    assert profile.source == path.resolve()
