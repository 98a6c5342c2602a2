"""What the Privacy page and ``crystal-manager privacy`` show: the catalog and the ledger as plain data
(no Qt, no printing), so both read one set of facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crystal_manager.privacy.catalog import (
    DISCLOSURES,
    NONCE_FIELD,
    POLICY_SECTIONS,
    Catalog,
    FieldSpec,
    RequestType,
)
from crystal_manager.privacy.policy import section_title
from crystal_manager.privacy.texts import DAMAGED_COPIES, KNOWN_FILES, KNOWN_PLACES, PRODUCT_FILES

if TYPE_CHECKING:
    from crystal_manager.services.context import AppContext


def _field_json(spec: FieldSpec) -> dict[str, Any]:
    shape = spec.shape
    return {"name": spec.name, "in": spec.location, "required": spec.required, "secret": spec.secret,
            "shape": shape.describe(), "purpose": spec.purpose, "policy": spec.policy,
            "policy_text": POLICY_SECTIONS.get(spec.policy, ""), "policy_title": section_title(spec.policy),
            "kept_by_server": spec.retention, "in_words": spec.plain, "why": spec.why,
            "members": [{"name": m.name, "shape": m.shape.describe(), "purpose": m.purpose}
                        for m in shape.members]}


def request_json(catalog: Catalog, request_type: RequestType) -> dict[str, Any]:
    """One request type with every field and header it may carry."""
    fields = [*request_type.fields, *((NONCE_FIELD,) if request_type.signed_response else ())]
    return {"kind": request_type.kind, "title": request_type.title, "method": request_type.method,
            "path": request_type.path, "purpose": request_type.purpose, "when": request_type.when,
            "policy": list(request_type.policy), "fields": [_field_json(spec) for spec in fields],
            "headers": [_field_json(spec) for spec in catalog.common_headers]}


def export_privacy(ctx: AppContext, path: Path) -> int:
    """Write the log and the catalog to ``path`` as one JSON file, whole or not at all (a reader never sees
    half an export; user-only, as the log itself); the number of requests written. OSError when it cannot."""
    from crystal_manager.storage.atomic import write_json_atomic

    if not path.parent.is_dir():  # a mistyped folder is an error, not a folder made for it
        raise FileNotFoundError(2, "No such folder", str(path.parent))
    entries = ctx.ledger.entries()
    write_json_atomic(path, {"log": entries, "catalog": catalog_json(ctx.catalog)})
    return len(entries)


def catalog_json(catalog: Catalog) -> dict[str, Any]:
    """The whole catalog: requests, what else leaves, and the policy sections they rely on."""
    return {"requests": [request_json(catalog, t) for t in catalog.types],
            "other_disclosures": [{"name": d.name, "title": d.title, "what": d.what, "who_sees": d.who_sees,
                                   "policy": d.policy} for d in DISCLOSURES],
            "policy_sections": dict(POLICY_SECTIONS)}


def parse_since(text: str) -> datetime:
    """A date (``2026-03-01``) or a date and time, as UTC; ValueError in words otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 2026-03-01 or 2026-03-01T09:30") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def entries_since(entries: list[dict[str, Any]], since: datetime | None) -> list[dict[str, Any]]:
    """Ledger entries from ``since`` on (all when None); entries without a readable time are kept."""
    if since is None:
        return entries
    kept = []
    for entry in entries:
        try:
            moment = parse_since(str(entry.get("ts", "")))
        except ValueError:
            kept.append(entry)
            continue
        if moment >= since:
            kept.append(entry)
    return kept


def _file_words(relative: str, role: str) -> str:
    """What a file of the app is, in words: by its name, else by where it is, else its folder's role."""
    name = relative.rsplit("/", 1)[-1]
    for start, what in DAMAGED_COPIES:  # before the names: "license.json.damaged-…" is no license record
        if name.startswith(start):
            return what
    base = name.split(".jsonl.")[0] + ".jsonl" if ".jsonl." in name and not name.endswith(".lock") else name
    if base in KNOWN_FILES:
        return KNOWN_FILES[base]
    for place, what in KNOWN_PLACES:
        if "/" in place:  # a folder or a file at a known place
            found = place in relative
        elif place.startswith("."):  # a suffix, rotated copies too (manager.log.1)
            found = name.endswith(place) or place + "." in name
        else:  # a name, alone or as a suffix (updates/lock, ledger.jsonl.lock)
            found = name == place or name.endswith("." + place)
        if found:
            return what
    return role


def stored_files(folders: dict[str, Path]) -> list[dict[str, Any]]:
    """Every file under the app's folders (the installed product's versions counted as one folder, and
    not again inside the data folder that holds it by default)."""
    found: list[dict[str, Any]] = []
    product = folders.get("product")
    for role, folder in folders.items():
        if not folder.is_dir():
            continue
        if role == "product":
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
            found.append({"path": str(folder), "bytes": size, "what": PRODUCT_FILES})
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if product is not None and path.is_relative_to(product):
                continue
            found.append({"path": str(path), "bytes": path.stat().st_size,
                          "what": _file_words(path.relative_to(folder).as_posix(), role)})
    return found


def when_words(stamp: str) -> str:
    """A ledger time as people read it, in local time ("30 Nov 2026, 09:12"; services.dates: one format)."""
    from crystal_manager.services.dates import date_words

    return date_words(stamp, with_time=True, unknown="at an unknown time")


#: Data that are long codes (64 hex digits, 44 characters of a public key): shown shortened, as the key is
#: ("…7F3A"), with the exact value one step away (a tooltip, "Show the exact values", ``--exact``).
LONG_CODES = frozenset({"fingerprint", "previous_fingerprint", "machine_public_key"})


def short_value(name: str, value: object) -> str:
    """A value as people read it: a long code cut to its method and first four characters ("v1:d602…");
    any other value as it is. The exact value is the proof: callers keep it reachable."""
    text = str(value)
    if name not in LONG_CODES or len(text) <= 12:
        return text
    method, colon, code = text.partition(":")
    return f"{method}:{code[:4]}…" if colon and len(method) <= 3 else f"{text[:4]}…"


def fields_in_words(catalog: Catalog, entry: dict[str, Any], *, exact: bool = False) -> list[str]:
    """The data a recorded request carried, each named as the catalog names it for people, in its order;
    long codes shortened unless ``exact`` (the key is masked in the log itself, always)."""
    request_type = catalog.get(str(entry.get("kind", "")))
    fields = dict(entry.get("fields") or {})
    specs = list(request_type.fields) if request_type is not None else []

    def shown(name: str, value: object) -> str:
        return str(value) if exact else short_value(name, value)

    words = [f"{spec.plain or spec.name}: {shown(spec.name, fields.pop(spec.name))}"
             for spec in specs if spec.name in fields]
    return words + [f"{name}: {shown(name, value)}" for name, value in sorted(fields.items())]


#: Kinds whose requests come in bursts that are one thing to a person: an update check fetches several
#: signed files, one request each (each is recorded: that is the promise), shown as one line.
GROUPED_KINDS = frozenset({"update_metadata", "update_target"})
#: Requests more than this apart are never one check (seconds).
GROUP_GAP_SECONDS = 120


@dataclass(frozen=True)
class LogLine:
    """One line of the privacy log as people read it: one request, or the requests of one update check
    (oldest first; each still a ledger entry of its own, reachable for its details)."""

    entries: tuple[dict[str, Any], ...]

    @property
    def first(self) -> dict[str, Any]:
        """The line's first request (its time, kind and trigger are the line's)."""
        return self.entries[0]

    @property
    def kind(self) -> str:
        """The request kind of every entry on the line."""
        return str(self.first.get("kind", ""))

    @property
    def count(self) -> int:
        """How many requests the line stands for."""
        return len(self.entries)

    @property
    def bytes_sent(self) -> int:
        """The bytes all its requests sent (as on the wire)."""
        return sum(int(e.get("bytes_sent") or 0) for e in self.entries)

    @property
    def outcome(self) -> dict[str, Any]:
        """The entry whose ending is the line's: the first that failed, was refused or never got an answer
        (a check stops there), else the last."""
        return next((e for e in self.entries if _went_wrong(e)), self.entries[-1])

    @property
    def names(self) -> list[str]:
        """The files the requests fetched, in order (update requests carry only a file name)."""
        return [str((e.get("fields") or {}).get("name", "")) for e in self.entries]


def _went_wrong(entry: dict[str, Any]) -> bool:
    status = entry.get("status")
    if entry.get("state") == "pending" or entry.get("error"):
        return True
    # A 404 for update information is the ordinary "nothing newer" (the next root file does not exist yet).
    return isinstance(status, int) and status >= 400 and not (status == 404 and entry.get("kind") == "update_metadata")


def _moment(entry: dict[str, Any]) -> datetime | None:
    try:
        return parse_since(str(entry.get("ts", "")))
    except ValueError:
        return None


def _is_root(entry: dict[str, Any]) -> bool:
    """An update check begins by asking for the next signed root file (``2.root.json``)."""
    return str((entry.get("fields") or {}).get("name", "")).endswith("root.json")


def _joins(line: list[dict[str, Any]], entry: dict[str, Any]) -> bool:
    """Whether ``entry`` is the next request of the same update check as ``line``."""
    last = line[-1]
    kind = entry.get("kind")
    if kind not in GROUPED_KINDS or kind != last.get("kind"):
        return False
    if entry.get("trigger") != last.get("trigger") or entry.get("host") != last.get("host"):
        return False
    if kind == "update_metadata" and _is_root(entry) and not _is_root(last):
        return False  # a new check starts (root files follow each other only within one check)
    before, now = _moment(last), _moment(entry)
    return before is not None and now is not None and 0 <= (now - before).total_seconds() <= GROUP_GAP_SECONDS


def log_lines(entries: Sequence[dict[str, Any]]) -> list[LogLine]:
    """The ledger's entries (oldest first) as the lines people read, oldest first: the requests of one
    update check on one line; every other request on its own. Requests are grouped only when they follow
    each other in the log (another request between them splits the line: the order stays true)."""
    lines: list[list[dict[str, Any]]] = []
    for entry in entries:
        if lines and _joins(lines[-1], entry):
            lines[-1].append(entry)
        else:
            lines.append([entry])
    return [LogLine(tuple(line)) for line in lines]
