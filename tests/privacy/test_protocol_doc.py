"""docs/protocol.md and the data catalog are one set of facts."""

from __future__ import annotations

from pathlib import Path

from crystal_manager.privacy.catalog import COMMON_HEADERS, default_catalog
from crystal_manager.privacy.protocol_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_protocol_doc_is_generated_from_catalog() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/protocol.md is stale: python -m crystal_manager.privacy.protocol_doc > docs/protocol.md")


def test_every_request_type_and_field_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for request_type in default_catalog().types:
        assert f"`{request_type.method} {request_type.path}`" in text
        for spec in request_type.fields:
            assert f"`{spec.name}`" in text
    for spec in COMMON_HEADERS:
        assert f"`{spec.name}`" in text


def test_catalog_entries_are_complete() -> None:
    from crystal_manager.privacy.catalog import POLICY_SECTIONS

    kinds = [t.kind for t in default_catalog().types]
    assert len(kinds) == len(set(kinds))
    for request_type in default_catalog().types:
        assert request_type.purpose and request_type.when and request_type.title
        assert set(request_type.policy) <= set(POLICY_SECTIONS)
        for spec in (*request_type.fields, *COMMON_HEADERS):
            assert spec.purpose and spec.example and spec.retention
            assert spec.policy in POLICY_SECTIONS
            if spec.location == "path":
                assert "{" + spec.name + "}" in request_type.path


def test_secrets_never_appear_whole_in_the_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    for request_type in default_catalog().types:
        for spec in request_type.fields:
            if spec.secret and len(spec.example) > 4:
                assert spec.example not in text
