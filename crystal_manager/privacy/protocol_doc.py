"""Render ``docs/protocol.md`` from the data catalog: one set of facts, never two copies that drift.

``python -m crystal_manager.privacy.protocol_doc > docs/protocol.md`` regenerates it; a test checks it.
"""

from __future__ import annotations

from crystal_manager.privacy.catalog import (
    COMMON_HEADERS,
    NONCE_FIELD,
    POLICY_SECTIONS,
    Catalog,
    FieldSpec,
    RequestType,
    default_catalog,
)
from crystal_protocol import PROTOCOL_VERSION
from crystal_protocol.wire import ERROR_CODES

#: Extra sections (signatures, leases) that other modules contribute: (title, markdown body).
EXTRA_SECTIONS: list[tuple[str, str]] = []


def _field_rows(fields: tuple[FieldSpec, ...]) -> list[str]:
    rows = ["| field | in | required | example | purpose | policy | kept by server |",
            "|---|---|---|---|---|---|---|"]
    for spec in fields:
        example = "…" + spec.example[-4:] if spec.secret else spec.example
        rows.append(f"| `{spec.name}` | {spec.location} | {'yes' if spec.required else 'no'} | `{example}` | "
                    f"{spec.purpose} | {spec.policy} | {spec.retention} |")
    return rows


def _request_section(request_type: RequestType) -> list[str]:
    lines = [f"### `{request_type.kind}` — {request_type.title}", "",
             f"`{request_type.method} {request_type.path}`", "",
             f"- **Why:** {request_type.purpose}",
             f"- **When:** {request_type.when}",
             f"- **Policy:** {', '.join(request_type.policy)}",
             f"- **Retried automatically:** {'yes (idempotent)' if request_type.idempotent else 'no'}",
             f"- **Signed response:** {'yes' if request_type.signed_response else 'no'}", ""]
    fields = request_type.fields + ((NONCE_FIELD,) if request_type.signed_response else ())
    if fields:
        lines += ["Request fields:", "", *_field_rows(fields), ""]
    else:
        lines += ["Request fields: none beyond the common headers.", ""]
    if request_type.response:
        lines += ["Response fields:", "", "| field | meaning |", "|---|---|"]
        lines += [f"| `{r.name}` | {r.description} |" for r in request_type.response]
        lines.append("")
    if request_type.errors:
        lines.append("Error codes: " + ", ".join(f"`{code}`" for code in request_type.errors))
        lines.append("")
    return lines


def render(catalog: Catalog | None = None) -> str:
    """The whole protocol document as Markdown."""
    cat = catalog or default_catalog()
    lines = [
        f"# CrystalMe3D Pro wire protocol v{PROTOCOL_VERSION}", "",
        "<!-- Generated from crystal_manager/privacy/catalog.py by "
        "`python -m crystal_manager.privacy.protocol_doc`. Do not edit by hand. -->", "",
        "Every request the Manager can send is listed here, with every field and header it may carry. "
        "The egress gateway refuses to send anything not declared here, and records what it sent in the "
        "local ledger (shown on the Privacy page).", "",
        "Transport: HTTPS (TLS verified against the operating system's trust store); plain HTTP only to "
        "a loopback address. No cookies. Answers are JSON unless noted; errors use the envelope "
        '`{"error": {"code": CODE, "message": TEXT}}`.', "",
        "## Privacy policy sections", "",
    ]
    lines += [f"- **{key}** {text}" for key, text in POLICY_SECTIONS.items()]
    lines += ["", "## Headers on every request", "", *_field_rows(COMMON_HEADERS), "", "## Requests", ""]
    for request_type in cat.types:
        lines += _request_section(request_type)
    lines += ["## Error codes", "", "| code | meaning |", "|---|---|"]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in ERROR_CODES.items()]
    lines.append("")
    for title, body in EXTRA_SECTIONS:
        lines += [f"## {title}", "", body.strip(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
