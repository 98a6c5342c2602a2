"""The license record's members: which stored values it takes and which it refuses (a refused member is reset
and named, the others are kept), held to the rules the record was read by before msgspec (decision 0018),
by table and by hypothesis; and a damaged file on disk is set aside whole and reported in plain words."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crystal_manager.licensing.record import LicenseRecord, load_record

MEMBERS = tuple(LicenseRecord.__struct_fields__)
TEXT_MAPS = ("lease", "pending_offline")
BOOLS = ("offline_activation",)


def accepted_before(name: str, value: Any) -> bool:
    """The rule each member was read by before the move (record.py's hand validation, kept here as the
    reference), except ``version``, which then took ``true`` for a number (now refused: a bool is no
    version)."""
    if name in TEXT_MAPS:
        return value is None or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
    if name in BOOLS:
        return isinstance(value, bool)
    if name == "last_attempt_ok":
        return value is None or isinstance(value, bool)
    if name == "version":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "clock_offset_seconds":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    return value is None or (isinstance(value, str) and len(value) < 2000)


def test_the_members_are_the_ones_the_files_have() -> None:
    assert MEMBERS[0] == "lease" and MEMBERS[-1] == "version" and len(MEMBERS) == 25
    assert set(LicenseRecord().to_json()) == set(MEMBERS)


TABLE: list[tuple[str, Any, bool]] = [
    ("lease", {"format": "crystal-signed-v1", "payload": "{}"}, True), ("lease", None, True),
    ("lease", {}, True), ("lease", {"payload": 1}, False), ("lease", "text", False), ("lease", [], False),
    ("pending_offline", {"nonce": "abc"}, True), ("pending_offline", {"nonce": None}, False),
    ("offline_activation", True, True), ("offline_activation", None, False), ("offline_activation", 1, False),
    ("last_attempt_ok", None, True), ("last_attempt_ok", False, True), ("last_attempt_ok", "yes", False),
    ("clock_offset_seconds", -86400, True), ("clock_offset_seconds", None, True),
    ("clock_offset_seconds", True, False), ("clock_offset_seconds", 1.5, False),
    ("version", 1, True), ("version", 7, True), ("version", None, False), ("version", "1", False),
    ("version", True, False),
    ("machine_id", "m_0123", True), ("machine_id", None, True), ("machine_id", 5, False),
    ("notice", "x" * 1999, True), ("notice", "x" * 2000, False), ("high_water", ["2026"], False),
]


@pytest.mark.parametrize(("name", "value", "ok"), TABLE)
def test_each_member_takes_or_refuses_a_value(name: str, value: Any, ok: bool) -> None:
    assert accepted_before(name, value) == ok or name == "version"
    record, damaged = LicenseRecord.read({name: value, "key_hint": "AB12"})
    assert damaged == ([] if ok else [name])
    assert getattr(record, name) == (value if ok else getattr(LicenseRecord(), name))
    assert record.key_hint == "AB12"  # a damaged member never takes the others with it


#: Where ``_spread`` picks characters: printable ASCII, the rest of the first plane (no surrogates), the others.
_PLANES = ((0x20, 0x7E), (0xA0, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))


def _spread(drawn: tuple[int, int]) -> str:
    """``length`` characters of every kind: a block of 100 picked from every plane by a generator seeded with
    the drawn ``seed``, repeated (a block costs hypothesis one choice, 2,000 drawn characters cost 2,000)."""
    seed, length = drawn
    pick = random.Random(seed)
    block = "".join(chr(pick.randint(*pick.choice(_PLANES))) for _ in range(100))
    return (block * 21)[:length]


#: Text on both sides of the 2,000-character limit (1,995-2,005 characters), counted in characters whichever they
#: are: a short drawn piece repeated (what shrinks well), or a spread of characters from every plane, where a rule
#: counting UTF-8 bytes, UTF-16 units or normalized text differs (a drawn piece of 1-5 characters rarely holds
#: one that does: 100 examples told a UTF-16 count from the real one in 15 of 40 seeds, an NFKC count in 3 of 40;
#: with the spread 34 and 29 of 40, and 20 and 20 of 40 for the 2,000 characters drawn whole it replaced).
LONG_TEXT = (st.tuples(st.text(min_size=1, max_size=5), st.integers(1995, 2005)).map(
    lambda drawn: (drawn[0] * 2005)[:drawn[1]])
    | st.tuples(st.integers(0, 2**32 - 1), st.integers(1995, 2005)).map(_spread))
JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
                    | st.text(max_size=5) | LONG_TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=6)


@given(values=st.dictionaries(st.sampled_from(MEMBERS), JSON, min_size=1, max_size=6))
def test_any_stored_values_are_judged_as_before(values: dict[str, Any]) -> None:
    record, damaged = LicenseRecord.read(values)
    assert damaged == [name for name in MEMBERS if name in values and not accepted_before(name, values[name])]
    for name in MEMBERS:
        kept = name in values and name not in damaged
        assert getattr(record, name) == (values[name] if kept else getattr(LicenseRecord(), name))


@pytest.mark.parametrize("data", [None, [], "text", 3])
def test_not_an_object_is_the_whole_file(data: Any) -> None:
    assert LicenseRecord.read(data) == (LicenseRecord(), ["the whole file"])


def test_a_damaged_file_is_set_aside_whole_said_in_words_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    raw = json.dumps({"machine_id": "m_0a", "key_hint": "AB12", "offline_activation": "no", "future": 1})
    path.write_text(raw)
    record = load_record(path)
    copies = list(tmp_path.glob("license.json.damaged-*"))
    assert len(copies) == 1 and copies[0].read_text() == raw  # the damaged bytes, kept as they were
    assert record.damaged_copy == copies[0].name
    assert record.notice == (f"the license file was damaged (offline_activation); a copy was kept as {copies[0].name}. "
                             "The license will be checked with the server again using the stored key")
    assert (record.machine_id, record.key_hint, record.offline_activation) == ("m_0a", "AB12", False)
    again = load_record(path)  # repaired at once: the next read neither copies nor warns again
    assert again == record and len(list(tmp_path.glob("license.json.damaged-*"))) == 1


def test_a_file_that_is_not_json_is_the_whole_file_in_words(tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    path.write_bytes(b'{"machine_id": "m_0a", ')
    record = load_record(path)
    assert record.notice is not None and "(the whole file: it could not be read)" in record.notice
    assert record.machine_id is None
    assert [p.read_bytes() for p in tmp_path.glob("license.json.damaged-*")] == [b'{"machine_id": "m_0a", ']
