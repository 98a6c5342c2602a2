"""`privacy storage` names only the keyring entries that are really there (issue 10, finding 6)."""

from __future__ import annotations

from crystal_manager.services.context import AppContext
from crystal_manager.services.key_storage import key_storage
from tests.support.keyring_memory import MemoryKeyring


def test_only_the_entries_really_there_are_named(lic_ctx: AppContext, memory_keyring: MemoryKeyring) -> None:
    empty = key_storage(lic_ctx, activated=False)
    assert empty.backend == "keyring" and empty.keyring == []
    assert empty.words == "The keyring holds nothing of the Manager's."
    lic_ctx.secrets.set("license_guard", "{}")  # what stays after a deactivation
    after = key_storage(lic_ctx, activated=False)
    assert [e["name"] for e in after.keyring] == ["license_guard"]
    assert after.words.startswith("In the keyring (named, never shown): license_guard (")
    assert "license_key" not in after.words and "{}" not in after.words  # never a value
