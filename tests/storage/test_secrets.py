"""The keyring layer: a real in-memory backend, and the 0600 file fallback when no keyring exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crystal_manager.storage.secrets import SecretStore, SecretStoreError, open_secret_store
from tests.support.keyring_memory import MemoryKeyring


def test_keyring_backend_is_used(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    store = open_secret_store(tmp_path / "secrets.json")
    assert not store.is_fallback and store.info.encrypted
    store.set("license_key", "CM3D-SECRET")
    assert store.get("license_key") == "CM3D-SECRET"
    assert memory_keyring.store[("CrystalMe3DProManager", "license_key")] == "CM3D-SECRET"
    store.delete("license_key")
    store.delete("license_key")
    assert store.get("license_key") is None
    assert not (tmp_path / "secrets.json").exists()


def _store_without_keyring(path: Path) -> SecretStore:
    """Open the store while keyring has no usable backend (keyring's own 'fail' backend)."""
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        return open_secret_store(path)
    finally:
        keyring.set_keyring(previous)


def test_fallback_file_when_no_keyring(tmp_path: Path) -> None:
    store = _store_without_keyring(tmp_path / "secrets.json")
    assert store.is_fallback and not store.info.encrypted
    store.set("license_key", "CM3D-SECRET")
    assert os.stat(tmp_path / "secrets.json").st_mode & 0o777 == 0o600
    assert store.get("license_key") == "CM3D-SECRET"


def test_fallback_file_corrupt_is_an_error_not_a_wipe(tmp_path: Path) -> None:
    import keyring
    import keyring.backends.fail

    (tmp_path / "secrets.json").write_text("garbage")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        store = open_secret_store(tmp_path / "secrets.json")
    finally:
        keyring.set_keyring(previous)
    with pytest.raises(SecretStoreError):
        store.set("k", "v")
    assert (tmp_path / "secrets.json").read_text() == "garbage"
