"""The server's Ed25519 signing keys, stored as PEM files (mode 0600) under ``DIR/keys``.

Which key signs is written down (``DIR/keys/<purpose>.signing`` holds its key id), never inferred from
the newest file: a key added for a rotation must not sign before the clients that trust it are out.
Retired keys move to ``DIR/keys/retired/`` (kept, never loaded).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A private key and its key id (first 16 hex digits of SHA-256 of the raw public key)."""

    kid: str
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        """The 32-byte raw public key."""
        return self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        """The public key in base64, as profiles carry it."""
        return base64.b64encode(self.public_raw).decode()

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message``."""
        return self.private.sign(message)


def key_id(public_raw: bytes) -> str:
    """Key id of a raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def generate(folder: Path, purpose: str) -> SigningKey:
    """Create a new key ``folder/<purpose>-<kid>.pem`` and return it."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = SigningKey(kid=key_id(raw), private=private)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = folder / f"{purpose}-{key.kid}.pem"
    temp = folder / f".{purpose}-{key.kid}.pem.tmp"  # a server starting meanwhile never reads half a key
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    return key


def load_all(folder: Path, purpose: str) -> list[SigningKey]:
    """Every key for ``purpose``, newest file last."""
    keys: list[SigningKey] = []
    found = []
    for path in folder.glob(f"{purpose}-*.pem"):
        try:
            found.append((path.stat().st_mtime, path, path.read_bytes()))
        except FileNotFoundError:
            continue  # retired while we looked
    for _mtime, path, pem in sorted(found, key=lambda item: item[0]):
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 key")
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys.append(SigningKey(kid=key_id(raw), private=private))
    return keys


def _signing_file(folder: Path, purpose: str) -> Path:
    return folder / f"{purpose}.signing"


def signing_record(folder: Path, purpose: str) -> tuple[str, float] | None:
    """The key id recorded as signing for ``purpose`` and when it was recorded (seconds since the epoch);
    None in folders made before it was recorded. A damaged record is an error, never "take the newest"."""
    try:
        text = _signing_file(folder, purpose).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    parts = text.split()
    try:
        kid, since = parts[0], float(parts[1]) if len(parts) > 1 else 0.0
    except (IndexError, ValueError):
        raise LookupError(f"{_signing_file(folder, purpose)} is damaged; run `crystal-server keys activate`") \
            from None
    return kid, since


def signing_kid(folder: Path, purpose: str) -> str | None:
    """The key id recorded as signing for ``purpose``; None in folders made before it was recorded."""
    record = signing_record(folder, purpose)
    return record[0] if record else None


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: written to a temporary file, synced, renamed."""
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def write_profile(data_dir: Path, profile: dict[str, Any]) -> None:
    """Write the clients' development profile (``DIR/profile.json``, which carries the public keys)."""
    write_atomically(data_dir / "profile.json", json.dumps(profile, indent=2) + "\n")


def set_signing(folder: Path, purpose: str, kid: str, since: float) -> None:
    """Record ``kid`` as the signing key for ``purpose`` from ``since`` (seconds since the epoch)."""
    write_atomically(_signing_file(folder, purpose), f"{kid} {since:.0f}\n")


def signing_key(folder: Path, purpose: str) -> SigningKey:
    """The key that signs for ``purpose``: the recorded one, else (older folders) the only or newest."""
    found = load_all(folder, purpose)
    if not found:
        raise LookupError(f"no {purpose} signing key in {folder}")
    kid = signing_kid(folder, purpose)
    if kid is None:
        return found[-1]
    for key in found:
        if key.kid == kid:
            return key
    raise LookupError(f"the recorded {purpose} signing key {kid} is not in {folder}")


def retire(folder: Path, purpose: str, kid: str) -> Path:
    """Move key ``kid`` out of use (to ``retired/``); returns its new place."""
    source = folder / f"{purpose}-{kid}.pem"
    target = folder / "retired" / source.name
    target.parent.mkdir(mode=0o700, exist_ok=True)
    os.replace(source, target)
    return target
