"""The license record kept on disk (``license.json``): the signed lease and verification facts, no secrets.

Written atomically; an unreadable file is moved aside (``license.corrupt.json``) rather than lost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from crystal_manager.storage.atomic import CorruptStateError, read_json, write_json_atomic
from crystal_protocol.signing import DocumentProblem, format_time, parse_time

RECORD_VERSION = 1


@dataclass
class LicenseRecord:
    """Everything the licensing core remembers between runs."""

    lease: dict[str, str] | None = None
    machine_id: str | None = None
    key_hint: str | None = None
    fingerprint: str | None = None
    fingerprint_version: str | None = None
    activated_at: str | None = None
    offline_activation: bool = False
    last_verified_at: str | None = None
    last_attempt_at: str | None = None
    last_attempt_ok: bool | None = None
    last_problem: str | None = None
    next_check_at: str | None = None
    high_water: str | None = None
    high_water_seen_at: str | None = None
    clock_set_back_at: str | None = None
    denial: str | None = None
    denial_message: str | None = None
    denial_ended_at: str | None = None  # the end date a signed "expired" named (its lease's dates are stale)
    pending_offline: dict[str, str] | None = None
    notice: str | None = None
    version: int = field(default=RECORD_VERSION)

    def time(self, name: str) -> datetime | None:
        """A stored timestamp field as a datetime (None if absent or malformed)."""
        value = getattr(self, name)
        try:
            return parse_time(value) if value else None
        except DocumentProblem:
            return None

    def set_time(self, name: str, moment: datetime | None) -> None:
        """Store a timestamp field."""
        setattr(self, name, format_time(moment) if moment else None)

    def to_json(self) -> dict[str, Any]:
        """The JSON written to disk."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> LicenseRecord:
        """Read a stored record; unknown keys are ignored, wrong types reset to defaults."""
        record = cls()
        if not isinstance(data, dict):
            return record
        defaults = cls()
        for f in fields(cls):
            if f.name not in data:
                continue
            value, default = data[f.name], getattr(defaults, f.name)
            if f.name in ("lease", "pending_offline"):
                ok = value is None or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
            elif isinstance(default, bool) or f.name == "last_attempt_ok":
                ok = (value is None and f.name == "last_attempt_ok") or isinstance(value, bool)
            elif f.name == "version":
                ok = isinstance(value, int)
            else:
                ok = value is None or isinstance(value, str)
            if ok:
                setattr(record, f.name, value)
        return record


def load_record(path: Path) -> LicenseRecord:
    """The stored record; a fresh one if absent; a corrupt file is kept aside and a notice set."""
    try:
        data = read_json(path)
    except CorruptStateError:
        aside = path.with_name(path.stem + ".corrupt.json")
        path.replace(aside)
        record = LicenseRecord()
        record.notice = f"the license state file was unreadable and was kept as {aside.name}; activate again"
        return record
    return LicenseRecord.from_json(data) if data is not None else LicenseRecord()


def save_record(path: Path, record: LicenseRecord) -> None:
    """Write the record atomically (mode 0600)."""
    write_json_atomic(path, record.to_json())
