"""The trust profile: which server to talk to and which public keys to believe.

The production profile is built in (``crystal_manager/resources/trust/production.json``). A development profile written
by ``crystal-server init`` may replace it for the demo and tests; the app then says so plainly. Keys are
never taken from the server.

Read by hand, not by msgspec: the profile is read before the first tray icon shows, where
loading msgspec would cost ten times what a change there may (measured in decision 0018, "The local
files"). Each member's rule is one entry of ``READERS``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from crystal_manager.resources import resources_dir

PROFILE_ENV = "CRYSTAL_MANAGER_PROFILE"
SERVER_ENV = "CRYSTAL_MANAGER_SERVER"


class ProfileError(Exception):
    """A profile file is missing, unreadable or malformed."""


class Profile(NamedTuple):
    """Server URL plus trust anchors. (A NamedTuple, not a dataclass: a start-up trick,
    docs/decisions/0012-start-up-tricks.md.)"""

    name: str
    production: bool
    server_url: str
    license_keys: dict[str, bytes]
    tuf_root: dict[str, Any] | None = None
    tls_ca_file: Path | None = None
    source: Path | None = None  # where it was read from; not part of equality

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Profile) and self[:-1] == other[:-1]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:-1])  # as the frozen dataclass did (a TypeError while it holds dicts)

    def with_server(self, url: str | None) -> Profile:
        """The same anchors, another server URL (``--server`` or settings)."""
        if not url:
            return self
        return Profile(self.name, self.production, url.rstrip("/"), self.license_keys, self.tuf_root,
                       self.tls_ca_file, self.source)


def _text(value: object, source: Path, name: str) -> str:
    return str(value)


def _url(value: object, source: Path, name: str) -> str:
    return str(value).rstrip("/")


def _truth(value: object, source: Path, name: str) -> bool:
    return bool(value)


def _keys(value: object, source: Path, name: str) -> dict[str, bytes]:
    """Key id → a raw 32-byte Ed25519 public key (given in base64); at least one."""
    if not isinstance(value, dict) or not value:
        raise ProfileError(f"{source}: {name} must map key ids to public keys")
    keys: dict[str, bytes] = {}
    for kid, b64 in value.items():
        try:
            key = base64.b64decode(str(b64), validate=True)
        except binascii.Error as exc:
            raise ProfileError(f"{source}: key {kid!r} is not base64") from exc
        if len(key) != 32:
            raise ProfileError(f"{source}: key {kid!r} is not a 32-byte Ed25519 public key")
        keys[str(kid)] = key
    return keys


def _root(value: object, source: Path, name: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ProfileError(f"{source}: {name} must be root metadata (a JSON object)")
    return value


def _beside(value: object, source: Path, name: str) -> Path | None:
    """A file named relative to the profile's own folder (anything but text: none)."""
    return (source.parent / value) if isinstance(value, str) else None


#: Each member of a profile file: whether it is required, and how it is read (``reader(value, source, name)``
#: gives the Profile's value or raises ProfileError). The members are Profile's, and so are their types; the
#: readers run in this order, so the first problem found is the one reported.
READERS: dict[str, tuple[bool, Callable[[Any, Path, str], Any]]] = {
    "name": (True, _text),
    "server_url": (True, _url),
    "license_keys": (True, _keys),
    "production": (False, _truth),
    "tuf_root": (False, _root),
    "tls_ca_file": (False, _beside),
}


def _parse(data: Any, source: Path) -> Profile:
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: a profile is a JSON object")
    for name, (required, _) in READERS.items():
        if required and name not in data:
            raise ProfileError(f"{source}: missing field {name!r}")
    values = {name: read(data.get(name), source, name) for name, (_, read) in READERS.items()}
    return Profile(**values, source=source)


def load_profile_file(path: Path) -> Profile:
    """Read a profile file; ProfileError says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"profile file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProfileError(f"cannot read profile {path}: {exc}") from exc
    return _parse(data, path.resolve())


def builtin_profile() -> Profile:
    """The vendor's production anchors shipped in ``crystal_manager/resources/trust``."""
    return load_profile_file(resources_dir() / "trust" / "production.json")


def select_profile(*, profile_file: str | None, server_url: str | None, settings_url: str | None,
                   environ: dict[str, str] | None = None) -> Profile:
    """Choose the profile: ``--profile`` > ``$CRYSTAL_MANAGER_PROFILE`` > built-in; then the URL:
    ``--server`` > ``$CRYSTAL_MANAGER_SERVER`` > settings > the profile's own."""
    env = os.environ if environ is None else environ
    chosen = profile_file or env.get(PROFILE_ENV)
    profile = load_profile_file(Path(chosen).expanduser()) if chosen else builtin_profile()
    return profile.with_server(server_url or env.get(SERVER_ENV) or settings_url)
