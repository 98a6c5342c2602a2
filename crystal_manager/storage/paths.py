"""Every folder the app writes to, from platformdirs or one ``CRYSTAL_MANAGER_HOME`` root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

APP_NAME = "CrystalMe3DProManager"
APP_AUTHOR = "CrystalMe3DPro"
HOME_ENV = "CRYSTAL_MANAGER_HOME"
#: The file that marks a folder the Manager created (services/deletion.py empties only such folders).
MARKER = ".crystal-manager"


class AppPaths(NamedTuple):
    """The app's folders. Nothing is created until :meth:`ensure` is called. (A NamedTuple, not a
    dataclass: a start-up trick, docs/decisions/0012-start-up-tricks.md.)"""

    config_dir: Path
    data_dir: Path
    state_dir: Path
    cache_dir: Path
    log_dir: Path
    install_root: Path
    #: The ``CRYSTAL_MANAGER_HOME`` folder when one is set (None: the per-OS folders): each such home is a
    #: copy of the app with its own keyring entries (storage.secrets.keyring_service).
    home_root: Path | None = None

    @property
    def settings_file(self) -> Path:
        """User settings (JSON)."""
        return self.config_dir / "settings.json"

    @property
    def ledger_file(self) -> Path:
        """The privacy ledger: one JSON line per request sent."""
        return self.data_dir / "ledger.jsonl"

    @property
    def license_state_file(self) -> Path:
        """The signed lease and verification state (no secrets)."""
        return self.state_dir / "license.json"

    @property
    def secrets_fallback_file(self) -> Path:
        """Used only when no keyring backend exists; mode 0600."""
        return self.state_dir / "secrets.json"

    def ensure(self) -> AppPaths:
        """Create every folder (user-only permissions) and return self."""
        for folder in (self.config_dir, self.data_dir, self.state_dir, self.cache_dir, self.log_dir):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                # Made by the Manager: "delete my data" may empty it; a folder it found is never emptied.
                (folder / MARKER).touch(mode=0o600)
        return self


def resolve_paths(environ: dict[str, str] | None = None) -> AppPaths:
    """Return the app's folders: all under ``$CRYSTAL_MANAGER_HOME`` when set, else per-OS defaults."""
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(
            config_dir=root / "config",
            data_dir=root / "data",
            state_dir=root / "state",
            cache_dir=root / "cache",
            log_dir=root / "logs",
            install_root=root / "product",
            home_root=root,
        )
    if _is_linux():
        return _xdg_paths(env)
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, APP_AUTHOR)
    return AppPaths(
        config_dir=Path(dirs.user_config_dir),
        data_dir=Path(dirs.user_data_dir),
        state_dir=Path(dirs.user_state_dir),
        cache_dir=Path(dirs.user_cache_dir),
        log_dir=Path(dirs.user_log_dir),
        install_root=Path(dirs.user_data_dir) / "product",
    )


def _is_linux() -> bool:
    # Not ``sys.platform``: mypy would then call the other platforms' branch unreachable on Linux.
    return hasattr(os, "uname") and os.uname().sysname == "Linux"


def _xdg_paths(env: Mapping[str, str]) -> AppPaths:
    """platformdirs' Linux answer, read directly (a start-up trick: docs/decisions/0012-start-up-tricks.md).
    A test keeps the two equal."""
    home = Path(env.get("HOME") or Path.home())

    def base(variable: str, default: str) -> Path:
        value = env.get(variable, "").strip()
        return Path(value) if value else home / default

    data = base("XDG_DATA_HOME", ".local/share") / APP_NAME
    state = base("XDG_STATE_HOME", ".local/state") / APP_NAME
    return AppPaths(
        config_dir=base("XDG_CONFIG_HOME", ".config") / APP_NAME,
        data_dir=data,
        state_dir=state,
        cache_dir=base("XDG_CACHE_HOME", ".cache") / APP_NAME,
        log_dir=state / "log",
        install_root=data / "product",
    )


def installed_product_version(paths: AppPaths) -> str | None:
    """The version of CrystalMe3D Pro installed under the product root, or None.

    Read from the install root's ``current.json`` (see crystal_manager.updates.layout), with json alone:
    this runs while the tray starts and must not load the updates machinery.
    """
    import json

    try:
        data = json.loads((paths.install_root / "current.json").read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    current = data.get("current") if isinstance(data, dict) else None
    return current if isinstance(current, str) and current else None
