"""Where this computer keeps the license key, said truthfully for ``privacy storage`` and the Privacy page:
only the keyring entries that are really there are named (never their values); with no keyring the words
point at the user-only file and what it holds, or say plainly that nothing is stored when it is gone."""

from __future__ import annotations

from dataclasses import dataclass, field

from crystal_manager.privacy.texts import KEYRING_ENTRIES
from crystal_manager.services.context import AppContext
from crystal_manager.storage.secrets import SecretStore, SecretStoreError


@dataclass(frozen=True)
class KeyStorage:
    """What holds the license key on this computer."""

    #: "keyring" (the operating system's) or "file" (the user-only fallback file: no keyring exists).
    backend: str
    #: The app's secrets that are really there (in the keyring or the file), named with what they are.
    entries: list[dict[str, str]] = field(default_factory=list)
    #: The fallback file, when that is where the secrets are kept and it exists.
    file: str | None = None
    #: One sentence for people.
    words: str = ""

    @property
    def keyring(self) -> list[dict[str, str]]:
        """The entries in the operating system's keyring (none when the secrets are in the file)."""
        return self.entries if self.backend == "keyring" else []


def _present(store: SecretStore) -> list[dict[str, str]] | None:
    """The app's entries that hold a value (None: the store could not be read)."""
    try:
        return [{"name": name, "what": what} for name, what in KEYRING_ENTRIES if store.get(name)]
    except SecretStoreError:
        return None


def _listed(entries: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['name']} ({e['what']})" for e in entries)


def key_storage(ctx: AppContext, *, activated: bool) -> KeyStorage:
    """Where the secrets are kept (``activated``: this computer holds a license, for the words when the
    key is missing). Reads which entries exist (a keyring may ask to be unlocked, as at every license check);
    never shows a value."""
    store = ctx.secrets
    if store.is_fallback:
        path = store.fallback_path
        if path is None or not path.is_file():
            return KeyStorage("file", words="No keyring on this computer, and no license key is stored here"
                              + (" (the file that held it is gone: activate again with your key)." if activated
                                 else "."))
        entries = _present(store)
        if entries is None:
            return KeyStorage("file", file=str(path), words=f"No keyring on this computer; {path.name} (listed "
                              "above) cannot be read: it is damaged. Check the license to have it set aside.")
        held = _listed(entries) if entries else "nothing any more"
        return KeyStorage("file", entries=entries, file=str(path),
                          words=f"No keyring on this computer: {path.name} (listed above; readable only by you) "
                                f"holds {held}.")
    entries = _present(store)
    if entries is None:
        return KeyStorage("keyring", words="The keyring could not be read, so what it holds for the Manager "
                                           "cannot be listed now.")
    if not entries:
        return KeyStorage("keyring", words="The keyring holds nothing of the Manager's.")
    return KeyStorage("keyring", entries=entries, words="In the keyring (named, never shown): " + _listed(entries))
