"""ngclient's network seam: metadata files fetched through our gateway (catalog, ledger, TLS, caps).

Only metadata goes through here. Release archives are downloaded by ``updates/download.py`` (resumable,
with progress), never by ngclient, which keeps a whole target in a temporary file with no resume.
Imports tuf: load this module only when a check runs (start-up budget).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import unquote

from tuf.api.exceptions import DownloadError, DownloadHTTPError, DownloadLengthMismatchError
from tuf.ngclient import FetcherInterface, UpdaterConfig

from crystal_manager.net.errors import ResponseTooLarge
from crystal_manager.net.request import GatewayResponse, OutboundRequest, Trigger

#: Top-level role files only, optionally version-prefixed (consistent snapshots): ``timestamp.json``,
#: ``3.root.json``, ``12.snapshot.json``. Anything else is refused before it can become a path or URL.
_NAME = re.compile(r"^(?:[1-9][0-9]{0,9}\.)?(root|timestamp|snapshot|targets)\.json$")


class Sender(Protocol):
    """What the fetcher needs from the gateway."""

    def send(self, request: OutboundRequest, *, max_bytes: int = ...) -> GatewayResponse: ...


class MetadataNameRefused(DownloadError):
    """ngclient asked for something that is not a plain metadata file name (never sent)."""


class GatewayFetcher(FetcherInterface):
    """Map ngclient's ``{base}{name}`` URLs to ``update_metadata`` requests with one path field."""

    def __init__(self, gateway: Sender, base_url: str, *, trigger: Trigger = "user",
                 config: UpdaterConfig | None = None) -> None:
        self._gateway = gateway
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._trigger: Trigger = trigger
        self._config = config or UpdaterConfig()

    def _cap(self, role: str) -> int:
        # The gateway stops reading at the cap, so an endless answer costs at most this many bytes.
        cfg = self._config
        return {"root": cfg.root_max_length, "timestamp": cfg.timestamp_max_length,
                "snapshot": cfg.snapshot_max_length}.get(role, cfg.targets_max_length)

    def name_for(self, url: str) -> str:
        """The metadata file name in ``url``; MetadataNameRefused for anything else."""
        if not url.startswith(self._base):
            raise MetadataNameRefused(f"not an update metadata address: {url!r}")
        name = unquote(url[len(self._base):])
        if not _NAME.match(name):
            raise MetadataNameRefused(f"not a plain metadata file name: {name!r}")
        return name

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = self.name_for(url)
        match = _NAME.match(name)
        assert match is not None
        request = OutboundRequest(kind="update_metadata", path_params={"name": name}, trigger=self._trigger)
        # Not a generator: the request runs inside fetch(), so ngclient wraps our transport errors in
        # DownloadError with the original as __cause__, which trust.py unwraps into a network problem.
        try:
            response = self._gateway.send(request, max_bytes=self._cap(match.group(1)))
        except ResponseTooLarge as exc:
            raise DownloadLengthMismatchError(f"{name} is larger than any update information may be") from exc
        if response.status != 200:
            raise DownloadHTTPError(f"the update server answered {response.status} for {name}", response.status)
        return iter((response.body,))
