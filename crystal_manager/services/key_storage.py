"""Where this computer keeps the license key, said truthfully for ``privacy storage`` and the Privacy page:
keyring entries are named only when a keyring is in use and this computer is activated; with no keyring the
words point at the user-only file, or say plainly that no key is stored when that file is gone."""

from __future__ import annotations

from dataclasses import dataclass, field

from crystal_manager.privacy.texts import KEYRING_ENTRIES
from crystal_manager.services.context import AppContext


@dataclass(frozen=True)
class KeyStorage:
    """What holds the license key on this computer."""

    #: "keyring" (the operating system's) or "file" (the user-only fallback file: no keyring exists).
    backend: str
    #: The keyring's entries for the app, named (never their values); empty unless they are really there.
    keyring: list[dict[str, str]] = field(default_factory=list)
    #: The fallback file, when that is where the key is kept and it exists.
    file: str | None = None
    #: One sentence for people.
    words: str = ""


def key_storage(ctx: AppContext, *, activated: bool) -> KeyStorage:
    """Where the key is kept (``activated``: this computer holds a license). Opens the secret store without
    reading it: naming a keyring entry never needs its value (and reading could prompt for a password)."""
    store = ctx.secrets
    if store.is_fallback:
        path = store.fallback_path
        if path is not None and path.is_file():
            return KeyStorage("file", file=str(path),
                              words=f"No keyring on this computer: the license key and this computer's private "
                                    f"key are kept in {path.name} (listed above; readable only by you).")
        return KeyStorage("file", words="No keyring on this computer, and no license key is stored here"
                          + (" (the file that held it is gone: activate again with your key)." if activated
                             else "."))
    if not activated:
        return KeyStorage("keyring", words="The keyring holds nothing of the Manager's: this computer is not "
                                           "activated.")
    entries = [{"name": name, "what": what} for name, what in KEYRING_ENTRIES]
    return KeyStorage("keyring", keyring=entries,
                      words="In the keyring (named, never shown): "
                            + "; ".join(f"{e['name']} ({e['what']})" for e in entries))
