"""docs/protocol.md is generated from the catalog: it must match, and declare every licensing request."""

from __future__ import annotations

from pathlib import Path

from crystal_manager.privacy.catalog import default_catalog
from crystal_manager.privacy.protocol_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_protocol_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render()


def test_licensing_requests_are_declared_signed_with_a_secret_key() -> None:
    catalog = default_catalog()
    for kind in ("license_activate", "license_validate", "license_deactivate", "license_machines"):
        request_type = catalog.get(kind)
        assert request_type is not None and request_type.signed_response
        key = request_type.field_named("key", "body")
        assert key is not None and key.secret
        assert all(spec.purpose and spec.policy for spec in request_type.fields)
