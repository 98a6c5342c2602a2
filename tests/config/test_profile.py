"""Trust profiles: built-in production anchors, development profiles, URL precedence, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crystal_manager.config.profile import ProfileError, builtin_profile, load_profile_file, select_profile


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
