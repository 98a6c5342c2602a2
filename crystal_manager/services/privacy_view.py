"""What the Privacy page and ``crystal-manager privacy`` show: the catalog and the ledger as plain data
(no Qt, no printing), so both read one set of facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def fields_in_words(catalog: Catalog, entry: dict[str, Any]) -> list[str]:
    """The data a recorded request carried, each named as the catalog names it for people, in its order."""
    request_type = catalog.get(str(entry.get("kind", "")))
    fields = dict(entry.get("fields") or {})
    specs = list(request_type.fields) if request_type is not None else []
    words = [f"{spec.plain or spec.name}: {fields.pop(spec.name)}" for spec in specs if spec.name in fields]
    return words + [f"{name}: {value}" for name, value in sorted(fields.items())]
