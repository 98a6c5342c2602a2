"""This machine's own Ed25519 key: made at activation, kept in the keyring, used to sign an offline
deactivation proof that the vendor can check against the public key sent at activation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from crystal_protocol.signing import DocumentProblem, b64, unb64

# cryptography loads when a key is used (activation, offline deactivation), not when the engine is built.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SECRET_NAME = "machine_key"  # noqa: S105 (the keyring entry name)


class Secrets(Protocol):
    """The part of SecretStore this needs."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...


def _raw_private(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def load_or_create(secrets: Secrets) -> Ed25519PrivateKey:
    """The stored machine key, or a new one (stored before it is used)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stored = secrets.get(SECRET_NAME)
    if stored:
        try:
            return Ed25519PrivateKey.from_private_bytes(unb64(stored))
        except (DocumentProblem, ValueError):
            pass  # unreadable: replace it; the server takes the new public key at the next activation
    key = Ed25519PrivateKey.generate()
    secrets.set(SECRET_NAME, b64(_raw_private(key)))
    return key


def load(secrets: Secrets) -> Ed25519PrivateKey | None:
    """The stored machine key, or None."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stored = secrets.get(SECRET_NAME)
    if not stored:
        return None
    try:
        return Ed25519PrivateKey.from_private_bytes(unb64(stored))
    except (DocumentProblem, ValueError):
        return None


def public_b64(key: Ed25519PrivateKey) -> str:
    """The raw public key in base64, as sent at activation."""
    from cryptography.hazmat.primitives import serialization

    return b64(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
