"""``data_dir/updates/state.json``: the last check, skipped versions, the download in progress and an
install waiting for the next start. Written atomically; a damaged file is set aside, never fatal.

The skipped versions live here only (not in settings): they are facts about releases, like the last check.
The channel and the automatic check are settings (``config/settings.py``).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crystal_manager.services.update_types import CheckResult, Entitlement, Release
from crystal_manager.storage.atomic import CorruptStateError, StorageError, read_json, write_json_atomic

#: Read-modify-write of the file by threads of one process (the GUI's worker and its page) is serialised
#: here; separate processes are kept apart by the updates lock for every network or install step.
STATE_LOCK = threading.RLock()


@dataclass(frozen=True)
class PendingRecord:
    """The release being downloaded: the signed facts the download is checked against."""

    version: str
    target_name: str
    length: int
    sha256: str


@dataclass(frozen=True)
class UpdateState:
    """Everything in state.json."""

    last_check_at: str | None = None
    last_check: CheckResult | None = None
    skipped: tuple[str, ...] = ()
    pending: PendingRecord | None = None
    install_at_next_start: PendingRecord | None = None
    #: The last check's signed facts about this product's releases for this platform (target name,
    #: length, sha256, custom): a skip or a channel change is decided again from them without the network.
    releases: tuple[dict[str, Any], ...] = ()
    #: The version whose last install did not start (and was put back): shown until it installs, is
    #: discarded, or another version is downloaded.
    failed_install: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, kept for newer versions


def _release(data: Any) -> Release | None:
    return Release(**data) if isinstance(data, dict) else None


def check_from_json(data: Any) -> CheckResult:
    """A stored CheckResult (ValueError/TypeError/KeyError when malformed)."""
    if not isinstance(data, dict):
        raise ValueError("last check is not an object")
    return CheckResult(checked_at=str(data["checked_at"]), installed_version=data["installed_version"],
                       channel=str(data["channel"]), offer=_release(data["offer"]), newest=_release(data["newest"]),
                       entitlement=Entitlement(**data["entitlement"]), reason=str(data["reason"]),
                       signed_by=tuple(str(k) for k in data["signed_by"]),
                       metadata_version=int(data["metadata_version"]))


def check_to_json(result: CheckResult) -> dict[str, Any]:
    """The JSON form of a CheckResult (also what ``update check --json`` builds on)."""
    data = asdict(result)
    data["signed_by"] = list(result.signed_by)
    return data


def _record(data: Any) -> PendingRecord | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("pending record is not an object")
    record = PendingRecord(version=str(data["version"]), target_name=str(data["target_name"]),
                           length=int(data["length"]), sha256=str(data["sha256"]))
    if "/" in record.target_name or "\\" in record.target_name or record.target_name.startswith("."):
        raise ValueError("pending record names a path, not a file")
    return record


def _version_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ValueError("failed_install is not a version")
    return value


_KNOWN = ("last_check_at", "last_check", "skipped", "pending", "install_at_next_start", "releases", "failed_install")


def _from_json(raw: Any) -> UpdateState:
    if not isinstance(raw, dict):
        raise ValueError("state is not an object")
    skipped = raw.get("skipped", [])
    if not isinstance(skipped, list) or not all(isinstance(v, str) for v in skipped):
        raise ValueError("skipped is not a list of versions")
    releases = raw.get("releases", [])
    if not isinstance(releases, list) or not all(isinstance(r, dict) for r in releases):
        raise ValueError("releases is not a list of objects")
    check = raw.get("last_check")
    last_at = raw.get("last_check_at")
    return UpdateState(last_check_at=str(last_at) if last_at else None,
                       last_check=check_from_json(check) if check is not None else None,
                       skipped=tuple(skipped), pending=_record(raw.get("pending")),
                       install_at_next_start=_record(raw.get("install_at_next_start")),
                       releases=tuple(releases),
                       failed_install=_version_or_none(raw.get("failed_install")),
                       extra={k: v for k, v in raw.items() if k not in _KNOWN})


def _to_json(state: UpdateState) -> dict[str, Any]:
    return {**state.extra, "last_check_at": state.last_check_at,
            "last_check": check_to_json(state.last_check) if state.last_check else None,
            "skipped": list(state.skipped),
            "pending": asdict(state.pending) if state.pending else None,
            "install_at_next_start": asdict(state.install_at_next_start) if state.install_at_next_start else None,
            "releases": list(state.releases), "failed_install": state.failed_install}


class StateFile:
    """Load and save state.json. ``damaged`` holds a message once a damaged file was set aside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damaged: str | None = None

    def load(self) -> UpdateState:
        """The stored state; defaults when missing; a damaged file is renamed aside (kept to look at)."""
        with STATE_LOCK:
            try:
                raw = read_json(self.path)
                return _from_json({} if raw is None else raw)
            except (CorruptStateError, ValueError, TypeError, KeyError) as exc:
                aside = self.path.with_name("state.damaged.json")
                with contextlib.suppress(OSError):
                    self.path.replace(aside)
                self.damaged = (f"The updates record was damaged and was set aside as {aside.name} ({exc}); "
                                "the last check and skipped versions were forgotten.")
                return UpdateState()

    def save(self, state: UpdateState) -> None:
        """Write atomically (temp file, fsync, rename)."""
        with STATE_LOCK:
            try:
                write_json_atomic(self.path, _to_json(state))
            except OSError as exc:
                raise StorageError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def update(self, **changes: Any) -> UpdateState:
        """Load, change some fields, save; return the new state."""
        with STATE_LOCK:
            state = replace(self.load(), **changes)
            self.save(state)
            return state
