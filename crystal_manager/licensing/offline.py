"""Offline activation for air-gapped machines: request file → vendor → signed response file; and an
offline deactivation proof signed by this machine's own key.

The request file holds no secret: the key appears only as its SHA-256 digest and last four characters.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from crystal_manager.licensing import machinekey
from crystal_manager.licensing.engine import KEY_SECRET, LicensingEngine
from crystal_manager.licensing.errors import LeaseInvalid, NotActivated, OfflineFileError, UnknownSigningKey
from crystal_manager.licensing.evaluate import Evaluation
from crystal_manager.licensing.keyformat import hint, normalize_key
from crystal_manager.licensing.lease import verify_lease
from crystal_manager.licensing.record import LicenseRecord
from crystal_manager.licensing.signatures import check_signature, new_nonce
from crystal_manager.storage.atomic import write_json_atomic
from crystal_protocol.lease import DEACTIVATION_PROOF_KIND, OFFLINE_REQUEST_FORMAT, OFFLINE_RESPONSE_KIND
from crystal_protocol.licensekey import key_digest
from crystal_protocol.signing import (
    DocumentProblem,
    format_time,
    make_document,
    parse_time,
    payload_of,
    split_document,
)

MAX_FILE_BYTES = 256 * 1024
_VOID_WORDS = {
    "revoked": "this response is older than the server's word that the license was revoked; it cannot be used",
    "expired": "this response is older than the server's word that the subscription ended; it cannot be used",
    "deactivated": "this response is older than this computer's deactivation; write a new request file",
}


def write_request(engine: LicensingEngine, key: str, path: Path) -> dict[str, Any]:
    """Write the request file; return exactly what it contains. The key is kept in the secret store."""
    key = normalize_key(key)
    ident = engine.identity()
    secrets = engine.cfg.secrets()
    public = machinekey.public_b64(machinekey.load_or_create(secrets))
    nonce = new_nonce()
    from crystal_protocol.messages import MessageProblem, OfflineRequest, as_json, read  # decision 0018

    try:  # read back through its message: the file is what the vendor's server accepts
        content = as_json(read(OfflineRequest, {
            "format": OFFLINE_REQUEST_FORMAT, "key_digest": key_digest(key), "key_hint": hint(key),
            "fingerprint": ident.fingerprint, "fingerprint_version": ident.version,
            "environment": ident.environment, "os": ident.os_family,
            "label": engine.cfg.label, "machine_public_key": public, "request_nonce": nonce,
            "created_at": format_time(engine.cfg.now())}))
    except MessageProblem as exc:
        raise OfflineFileError(f"this computer's request does not fit the file format: {exc}") from exc
    write_json_atomic(path, content, mode=0o644)
    secrets.set(KEY_SECRET, key)
    record = engine.load()
    record.pending_offline = {"nonce": nonce, "fingerprint": ident.fingerprint, "key_hint": hint(key)}
    engine.save(record)
    engine.guard.note_pending(nonce)  # the keyring copy too: license.json can be edited
    return content


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # never more: the file may be endless (a pipe, /dev/zero)
    except OSError as exc:
        raise OfflineFileError(f"cannot read {path}: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise OfflineFileError(f"{path} is too large to be a response file")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: deep nesting
        raise OfflineFileError(f"{path} is not a response file (not JSON)") from exc


def install_response(engine: LicensingEngine, path: Path) -> Evaluation:
    """Check and install a signed response file; anything wrong leaves the state unchanged."""
    record = engine.load()
    pending = record.pending_offline
    if not pending:
        raise OfflineFileError("no offline request was written on this machine; run activate --request-file first")
    try:
        kid, text, message, signature = split_document(_read(path), OFFLINE_RESPONSE_KIND)
        if not check_signature(engine.cfg.keys, kid, signature, message):
            raise OfflineFileError("the response file's signature does not match its contents (edited)")
        payload = payload_of(text, OFFLINE_RESPONSE_KIND)
    except UnknownSigningKey as exc:
        raise OfflineFileError(f"the response file is signed by a key this app does not trust: {exc}") from exc
    except DocumentProblem as exc:
        raise OfflineFileError(f"not a response file: {exc}") from exc
    if payload.get("request_nonce") != pending.get("nonce"):
        raise OfflineFileError("this response answers a different request file (an older one or another machine's)")
    if not engine.guard.pending_matches(pending.get("nonce")):  # a pending request typed back into license.json
        raise OfflineFileError("this response answers a request file this computer no longer waits for; "
                               "write a new request file")
    fingerprint = engine.identity().fingerprint
    if payload.get("fingerprint") != fingerprint:
        raise OfflineFileError("this response is for another machine")
    # The response's signed issue time is a moment the server's clock had reached; the file answers this
    # very request (its nonce), so a local clock behind the server's does not make its lease "from the future".
    try:
        issued = parse_time(payload.get("issued_at"))
    except DocumentProblem as exc:
        raise OfflineFileError(f"not a response file: {exc}") from exc
    trusted = max(engine.evaluate(record).trusted_now, issued)
    try:
        terms = verify_lease(payload.get("lease"), keys=engine.cfg.keys, fingerprint=fingerprint, now=trusted)
    except LeaseInvalid as exc:
        raise OfflineFileError(f"the lease in the response is not acceptable: {exc}") from exc
    denial = engine.guard.voided(terms)
    if denial is not None:  # an old response shown again after a signed denial of its lease lifts nothing
        raise OfflineFileError(_VOID_WORDS.get(denial.code, _VOID_WORDS["revoked"]))
    key = engine.stored_key()
    lease = payload["lease"]
    fresh = LicenseRecord(clock_set_back_at=record.clock_set_back_at)
    fresh.set_time("high_water", trusted)
    fresh.set_time("high_water_seen_at", engine.cfg.now())
    fresh.lease = {str(k): str(v) for k, v in lease.items()}
    fresh.machine_id, fresh.key_hint = terms.machine_id, hint(key)
    fresh.fingerprint, fresh.fingerprint_version = fingerprint, engine.identity().version
    fresh.activated_at = fresh.last_verified_at = terms.issued_at
    fresh.offline_activation = True
    fresh.last_attempt_ok = True
    fresh.next_check_at = format_time(terms.lease_expires)
    engine.save(fresh)
    engine.guard.supersede(terms)
    return engine.evaluate(fresh)


def write_deactivation_proof(engine: LicensingEngine, path: Path, now: datetime | None = None) -> dict[str, Any]:
    """Deactivate here without a network: write a proof signed by this machine's key, then forget the license."""
    record = engine.load()
    if record.lease is None or record.machine_id is None:
        raise NotActivated("this machine is not activated")
    key = machinekey.load(engine.cfg.secrets())
    if key is None:
        raise NotActivated("this machine has no machine key (activated by an older version); deactivate online")
    terms_license = json.loads(record.lease["payload"]).get("license_id") if "payload" in record.lease else None
    payload = {"license_id": terms_license, "machine_id": record.machine_id, "fingerprint": record.fingerprint,
               "deactivated_at": format_time(now or engine.cfg.now())}
    proof = make_document(DEACTIVATION_PROOF_KIND, payload, f"machine:{record.machine_id}", key.sign)
    write_json_atomic(path, proof, mode=0o644)
    engine.wipe(notice="this machine was deactivated offline; give the proof file to the vendor to free the seat")
    return proof
