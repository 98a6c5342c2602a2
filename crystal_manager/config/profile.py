"""The trust profile: which server to talk to and which public keys to believe.

The production profile is built in (``crystal_manager/resources/trust/production.json``). A development profile written
by ``crystal-server init`` may replace it for the demo and tests; the app then says so plainly. Keys are
never taken from the server.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
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


def _parse(data: Any, source: Path) -> Profile:
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: a profile is a JSON object")
    try:
        name = str(data["name"])
        url = str(data["server_url"]).rstrip("/")
        raw_keys = data["license_keys"]
    except KeyError as exc:
        raise ProfileError(f"{source}: missing field {exc.args[0]!r}") from exc
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise ProfileError(f"{source}: license_keys must map key ids to public keys")
    keys: dict[str, bytes] = {}
    for kid, b64 in raw_keys.items():
        try:
            key = base64.b64decode(str(b64), validate=True)
        except binascii.Error as exc:
            raise ProfileError(f"{source}: key {kid!r} is not base64") from exc
        if len(key) != 32:
            raise ProfileError(f"{source}: key {kid!r} is not a 32-byte Ed25519 public key")
        keys[str(kid)] = key
    tuf_root = data.get("tuf_root")
    if tuf_root is not None and not isinstance(tuf_root, dict):
        raise ProfileError(f"{source}: tuf_root must be root metadata (a JSON object)")
    ca = data.get("tls_ca_file")
    ca_path = (source.parent / ca) if isinstance(ca, str) else None
    return Profile(name=name, production=bool(data.get("production", False)), server_url=url,
                   license_keys=keys, tuf_root=tuf_root, tls_ca_file=ca_path, source=source)


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
