"""License files written by an earlier version (tests/licensing/stored/, made by its make.py with the real code
before the record and the lease moved to msgspec) are read by today's code: nothing is lost, nothing is taken
for damage, every stored lease still verifies, and the server, building a lease from the terms read back,
signs the very same bytes."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crystal_manager.licensing.lease import verify_lease
from crystal_manager.licensing.record import LicenseRecord, load_record, save_record
from crystal_protocol.lease import LEASE_KIND, LeaseTerms
from crystal_protocol.signing import canonical_json, parse_time
from crystal_server.keys import SigningKey
from crystal_server.licenses import signed_lease

STORED = Path(__file__).parent / "stored"
RECORDS = sorted(STORED.glob("record-*.json"))
LEASED = [path for path in RECORDS if json.loads(path.read_text())["lease"] is not None]


def trusted_keys() -> dict[str, bytes]:
    """The public keys of the servers that signed the stored leases."""
    keys: dict[str, str] = json.loads((STORED / "trust.json").read_text())["license_keys"]
    return {kid: base64.b64decode(value) for kid, value in keys.items()}


def test_the_stored_files_are_there() -> None:
    """Guards the parametrisation below: an empty glob would pass every test vacuously."""
    assert {path.name for path in RECORDS} >= {"record-activated.json", "record-trial-checked.json",
                                               "record-offline-pending.json", "record-deactivated.json"}
    assert len(LEASED) == 2


@pytest.mark.parametrize("stored", RECORDS, ids=lambda path: path.stem)
def test_a_stored_record_reads_whole_and_is_written_back_unchanged(stored: Path, tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    shutil.copyfile(stored, path)
    record = load_record(path)
    assert record.damaged_copy is None
    assert list(tmp_path.iterdir()) == [path]  # no copy set aside: nothing was taken for damage
    assert path.read_bytes() == stored.read_bytes()  # not rewritten by the read
    assert record.to_json() == json.loads(stored.read_text())  # every member, every value
    save_record(path, record)
    assert path.read_bytes() == stored.read_bytes()  # written back byte for byte


@pytest.mark.parametrize("stored", LEASED, ids=lambda path: path.stem)
def test_a_stored_lease_still_verifies(stored: Path) -> None:
    record = LicenseRecord.from_json(json.loads(stored.read_text()))
    assert record.lease is not None and record.fingerprint is not None
    issued = parse_time(json.loads(record.lease["payload"])["issued_at"])
    terms = verify_lease(record.lease, keys=trusted_keys(), fingerprint=record.fingerprint, now=issued)
    assert terms.kid == record.lease["kid"] and terms.machine_id == record.machine_id
    assert terms.entitlements == {"max_version": "2.9"}


@pytest.mark.parametrize("stored", LEASED, ids=lambda path: path.stem)
def test_terms_read_back_sign_the_same_bytes(stored: Path) -> None:
    """What the signature covers is the payload text: canonical JSON of every member, absent ones as null.
    The terms read from a stored lease, built into a lease by the server's own function, give that text."""
    lease = json.loads(stored.read_text())["lease"]
    terms = LeaseTerms.from_payload(json.loads(lease["payload"]))
    assert canonical_json({**terms.to_payload(), "type": LEASE_KIND}) == lease["payload"]
    key = SigningKey(kid=terms.kid, private=Ed25519PrivateKey.generate())
    assert signed_lease(terms, key)["payload"] == lease["payload"]


def test_a_newer_versions_members_are_ignored_not_taken_for_damage(tmp_path: Path) -> None:
    data = json.loads((STORED / "record-trial-checked.json").read_text())
    path = tmp_path / "license.json"
    path.write_text(json.dumps({**data, "added_later": {"any": ["shape"]}}))
    record = load_record(path)
    assert record.damaged_copy is None and record.notice is None
    assert record.to_json() == data
    payload = json.loads(data["lease"]["payload"])
    assert LeaseTerms.from_payload({**payload, "added_later": [1, 2]}) == LeaseTerms.from_payload(payload)
