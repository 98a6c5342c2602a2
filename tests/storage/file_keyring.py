"""A real keyring backend that keeps its entries in one JSON file (``CM_TEST_KEYRING_FILE``), so that
separate CLI processes share one keyring, as they share the desktop's Secret Service."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

#: The name such a file must have: it stands in for the desktop's keyring, where the key belongs, so the leak
#: scan (tests/test_zz_no_secret_leaks.py) passes it by this name.
STAND_IN_NAME = "os-keyring-stand-in.json"


class FileKeyring(KeyringBackend):
    """Entries as {"service\\x00name": secret} in the file named by ``CM_TEST_KEYRING_FILE``."""

    priority = 1

    @property
    def _path(self) -> Path:
        return Path(os.environ["CM_TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _save(self, data: dict[str, str]) -> None:
        self._path.write_text(json.dumps(data))

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\x00{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\x00{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._save(data)

    def services(self) -> set[str]:
        """The service names that hold an entry (what the test inspects)."""
        return {key.partition("\x00")[0] for key in self._load()}
