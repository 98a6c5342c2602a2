"""The license record kept on disk (``license.json``): the signed lease and verification facts, no secrets.

Written atomically. A damaged file (not JSON, or fields of the wrong kind) is never just dropped: a copy
is kept beside it (``license.json.damaged-<time>``), what could be read is kept, and the record says what
was damaged so the licensing core can recover with the stored key instead of asking for it again.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from crystal_manager.storage.atomic import StorageError, damaged_copy_name, write_json_atomic
from crystal_protocol.signing import DocumentProblem, format_time, parse_time

RECORD_VERSION = 1

#: A stored text: a timestamp, an id, a hint, a sentence of ours (longer is damage, not a record of ours).
Text = Annotated[str, msgspec.Meta(max_length=1999)]
#: Signed documents as they came (the lease) and the pending offline request's facts: text by name.
TextMap = dict[str, str]


class LicenseRecord(msgspec.Struct, kw_only=True):
    """Everything the licensing core remembers between runs. Its members are the file's: read through
    msgspec (decision 0018), one member at a time when the whole does not fit (see :meth:`read`)."""

    lease: TextMap | None = None
    machine_id: Text | None = None
    key_hint: Text | None = None
    fingerprint: Text | None = None
    fingerprint_version: Text | None = None
    activated_at: Text | None = None
    offline_activation: bool = False
    last_verified_at: Text | None = None
    last_attempt_at: Text | None = None
    last_attempt_ok: bool | None = None
    last_problem: Text | None = None
    next_check_at: Text | None = None
    high_water: Text | None = None
    high_water_seen_at: Text | None = None
    clock_set_back_at: Text | None = None
    denial: Text | None = None
    denial_message: Text | None = None
    denial_plan: Text | None = None  # the plan of the lease a signed denial deleted (shown, grants nothing)
    denial_ended_at: Text | None = None  # the end date a signed "expired" named (its lease's dates are stale)
    pending_offline: TextMap | None = None
    notice: Text | None = None
    clock_offset_seconds: int | None = None  # local clock minus the server's signed time, at the last answer
    damaged_copy: Text | None = None  # the copy of a damaged file, until the license is recovered
    last_machine_id: Text | None = None  # kept after a deactivation: "delete this computer's data" names it
    version: int = RECORD_VERSION

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
        """The JSON written to disk: every member, absent ones as ``null`` (as every version has written it)."""
        return msgspec.structs.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> LicenseRecord:
        """Read a stored record; unknown keys are ignored, wrong types reset to defaults."""
        return cls.read(data)[0]

    @classmethod
    def read(cls, data: Any) -> tuple[LicenseRecord, list[str]]:
        """Read a stored record and name the members that were damaged (reset to their defaults). Members
        this version does not know (a newer version's) are ignored."""
        if not isinstance(data, dict):
            return cls(), ["the whole file"]
        try:
            return msgspec.convert(data, cls), []
        except msgspec.ValidationError:
            pass  # keep what can be read: member by member, each through its own type
        record, damaged = cls(), []
        for member in msgspec.structs.fields(cls):
            if member.name not in data:
                continue
            try:
                setattr(record, member.name, msgspec.convert(data[member.name], member.type))
            except msgspec.ValidationError:
                damaged.append(member.name)
        return record, damaged


def _keep_copy(path: Path, content: bytes) -> Path:
    """Copy a damaged file aside (never overwriting an earlier copy). Idempotent: two readers that both find
    the same damage (the window and the tray, the app and a CLI) leave one copy, not "…Z" and "…Z-2" — a
    copy with the same content is that copy, and each name is taken atomically (a link, never replaced)."""
    for earlier in sorted(path.parent.glob(f"{path.name}.damaged-*")):
        try:
            if earlier.read_bytes() == content:
                return earlier
        except OSError:  # a copy being removed meanwhile (a deletion): not ours to reuse
            continue
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Written whole under a private name first, then linked to its name: a reader that finds the name
    # taken sees the complete copy (never a half-written one it would take for other content).
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".copy", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        n = 1
        while True:
            aside = damaged_copy_name(path, stamp, n)
            try:
                os.link(tmp, aside)
                return aside
            except FileExistsError:
                if aside.read_bytes() == content:  # another reader copied this very damage a moment ago
                    return aside
                n += 1
    finally:
        os.unlink(tmp)


def load_record(path: Path) -> LicenseRecord:
    """The stored record; a fresh one if absent. A damaged file is copied aside and what it held that could
    be read is kept; ``damaged_copy`` and ``notice`` say what happened (the file itself is repaired at the
    next save)."""
    # The bytes judged damaged are the bytes copied: another reader may repair the file in between, and
    # its repaired content is no damage to keep.
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LicenseRecord()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        data, damaged = None, ["the whole file: it could not be read"]
    else:
        if data is None:
            return LicenseRecord()
        record, damaged = LicenseRecord.read(data)
        if not damaged:
            return record
    if data is None:
        record = LicenseRecord()
    aside = _keep_copy(path, raw)
    record.damaged_copy = aside.name
    what = ", ".join(damaged[:6])
    record.notice = (f"the license file was damaged ({what}); a copy was kept as {aside.name}. The license "
                     "will be checked with the server again using the stored key")
    save_record(path, record)  # repaired now, so the next read neither copies nor warns again
    return record


def save_record(path: Path, record: LicenseRecord) -> None:
    """Write the record atomically (mode 0600)."""
    write_json_atomic(path, record.to_json())
