"""AppContext: the app's wiring (paths, settings, profile, ledger, gateway, secrets), built lazily.

Heavy parts (httpx through the gateway, keyring) are created on first use so the tray can show first.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from crystal_manager.config.profile import Profile, select_profile
from crystal_manager.config.settings import Settings, load_settings, save_settings
from crystal_manager.storage.paths import AppPaths, resolve_paths

if TYPE_CHECKING:
    from crystal_manager.net.gateway import Gateway
    from crystal_manager.privacy.catalog import Catalog
    from crystal_manager.privacy.ledger import Ledger
    from crystal_manager.storage.secrets import SecretStore


class AppContext:
    """Everything a service needs, owned by one face (GUI or CLI) for the life of the process.
    (A plain class, not a dataclass: a start-up trick, docs/decisions/0012-start-up-tricks.md.)"""

    def __init__(self, paths: AppPaths, settings: Settings, profile: Profile) -> None:
        self.paths = paths
        self.settings = settings
        self.profile = profile
        self._lock = threading.Lock()
        self._gateway: Gateway | None = None
        self._secrets: SecretStore | None = None
        self._catalog: Catalog | None = None
        self._ledger: Ledger | None = None

    # The catalog and the ledger are built on first use: nothing on the path to the tray needs them.
    @property
    def catalog(self) -> Catalog:
        """What the app may send (the privacy catalog)."""
        if self._catalog is None:
            from crystal_manager.privacy.catalog import default_catalog

            self._catalog = default_catalog()
        return self._catalog

    @property
    def ledger(self) -> Ledger:
        """The record of what was sent."""
        if self._ledger is None:
            from crystal_manager.privacy.ledger import Ledger

            self._ledger = Ledger(self.paths.ledger_file)
        return self._ledger

    @classmethod
    def create(cls, *, profile_file: str | None = None, server_url: str | None = None) -> AppContext:
        """Resolve paths, read settings and choose the profile (nothing is written)."""
        paths = resolve_paths()
        settings = load_settings(paths.settings_file)
        profile = select_profile(profile_file=profile_file, server_url=server_url,
                                 settings_url=settings.server_url)
        return cls(paths=paths, settings=settings, profile=profile)

    @property
    def gateway(self) -> Gateway:
        """The one network door (created on first use; imports httpx)."""
        with self._lock:
            if self._gateway is None:
                from crystal_manager.net.gateway import Gateway

                self._gateway = Gateway(base_url=self.profile.server_url, ledger=self.ledger,
                                        catalog=self.catalog, ca_file=self.profile.tls_ca_file)
            return self._gateway

    @property
    def secrets(self) -> SecretStore:
        """The keyring layer (created on first use; imports keyring)."""
        with self._lock:
            if self._secrets is None:
                from crystal_manager.storage.secrets import keyring_service, open_secret_store

                self._secrets = open_secret_store(self.paths.secrets_fallback_file,
                                                  keyring_service(self.paths.home_root))
            return self._secrets

    @property
    def opened_secrets(self) -> SecretStore | None:
        """The keyring layer if something already opened it, else None (never opens it)."""
        with self._lock:
            return self._secrets

    def save_settings(self) -> None:
        """Persist the current settings."""
        self.paths.ensure()
        save_settings(self.paths.settings_file, self.settings)

    def close(self) -> None:
        """Release network resources."""
        with self._lock:
            if self._gateway is not None:
                self._gateway.close()
                self._gateway = None
