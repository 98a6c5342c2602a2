"""Render ``docs/protocol.md`` from the data catalog: one set of facts, never two copies that drift.

``python -m crystal_manager.privacy.protocol_doc > docs/protocol.md`` regenerates it; a test checks it.
"""

from __future__ import annotations

from crystal_manager.privacy.catalog import (
    COMMON_HEADERS,
    DISCLOSURES,
    NONCE_FIELD,
    OFFLINE_REQUEST_FIELDS,
    POLICY_SECTIONS,
    SERVER_KEEPS,
    Catalog,
    FieldSpec,
    RequestType,
    default_catalog,
)
from crystal_protocol import PROTOCOL_VERSION
from crystal_protocol.signing import DATE_HEADER, DIGEST_HEADER, KEY_ID_HEADER, SIGNATURE_HEADER
from crystal_protocol.wire import ERROR_CODES, NONCE_HEADER

SIGNATURES = f"""
Every licensing answer (errors included) is signed by the server with Ed25519. Headers:

- `{DATE_HEADER}`: the server's time, `YYYY-MM-DDTHH:MM:SSZ`.
- `{DIGEST_HEADER}`: `sha-256=` and the base64 SHA-256 of the exact body bytes.
- `{KEY_ID_HEADER}`: which key signed (the first 16 hex digits of SHA-256 of the raw public key).
- `{SIGNATURE_HEADER}`: base64 Ed25519 signature over these lines joined by `\\n`:
  `crystal-response-v1`, the request's method, the request's path, the HTTP status, the date, the
  client's `{NONCE_HEADER}` value, the digest.
- `{NONCE_HEADER}`: the nonce echoed (for diagnosis only; the signature is what counts).

The app trusts only the public keys in its built-in trust anchors, by key id (keys can rotate; the server
never supplies keys). An answer that is unsigned, badly signed, signed by an unknown key, or signed for
another path or another nonce (replayed) counts as **no answer** (offline): the license keeps its state and
the grace countdown runs. Only a correctly signed denial changes the license to revoked or expired.

An answer is fresh because its signature covers this request's one-time nonce, so it is accepted whatever
the computer's clock says; the server's signed date is the time used for every date decided online (last
verified, next check, the lease), and a clock more than 5 minutes off only earns a warning.
"""

LEASES = """
A lease is a signed document: `{"format": "crystal-signed-v1", "type": "lease", "payload": TEXT, "kid": KID,
"sig": SIG}` where `SIG` is Ed25519 over `crystal-document-v1\\nlease\\n` + `TEXT`, and `TEXT` is canonical
JSON (sorted keys, no spaces) with: `license_id`, `machine_id`, `fingerprint` (the machine it is bound to),
`key_hint` (last 4 characters), `plan`, `status` (active, trial, past_due, expired, revoked), `expires_at`,
`renews_at`, `trial_ends_at`, `trial_days_left`, `seats_used`, `seats_total`, `entitlements` (e.g.
`max_version`), `issued_at`, `ttl_seconds` (14 days by default, set per license by the vendor with
`crystal-server license create/update --lease-days N`; never past the subscription's end), `kid`.

The lease is stored on the computer (no secrets in it) and re-verified on every read. Offline grace lasts
until `issued_at + ttl_seconds`, measured on trusted time (the highest of the server's signed dates and
the local clock; a clock set back by more than an hour is detected and does not extend grace).

Offline activation: the request file (fields below) goes to the vendor's portal or support; the portal
(`POST /v1/licenses/offline/answer` with `request` and `key`) also needs the key typed in, since the
file's key digest alone must not activate anything. The answer is a signed `offline_activation`
document holding the request's nonce, the fingerprint and a lease (TTL 90 days). Offline deactivation
writes a `deactivation_proof` document signed with the machine's own key (its public half was sent at
activation) naming the license, the machine and the time.
"""

#: Extra sections (signatures, leases) that other modules contribute: (title, markdown body).
EXTRA_SECTIONS: list[tuple[str, str]] = [("Signed answers", SIGNATURES), ("Signed leases", LEASES)]


def _field_rows(fields: tuple[FieldSpec, ...]) -> list[str]:
    rows = ["| field | in | required | shape | example | purpose | policy | kept by server |",
            "|---|---|---|---|---|---|---|---|"]
    for spec in fields:
        example = "…" + spec.example[-4:] if spec.secret else spec.example
        rows.append(f"| `{spec.name}` | {spec.location} | {'yes' if spec.required else 'no'} | "
                    f"{spec.shape.describe()} | `{example}` | {spec.purpose} | {spec.policy} | {spec.retention} |")
        # An object's members are declared one by one: anything else inside it is refused.
        rows += [f"| `{spec.name}.{m.name}` | {spec.location} | {'yes' if m.required else 'no'} | "
                 f"{m.shape.describe()} | | {m.purpose} | {spec.policy} | {spec.retention} |"
                 for m in spec.shape.members]
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
        "The egress gateway refuses to send anything not declared here, or any value that does not fit its "
        "declared shape (nothing is sent then), and records what it sent in the local ledger (shown on the "
        "Privacy page).", "",
        "Transport: HTTPS (TLS verified against the operating system's trust store); plain HTTP only to "
        "a loopback address. No cookies. Answers are JSON unless noted; errors use the envelope "
        '`{"error": {"code": CODE, "message": TEXT}}`.', "",
        "## Privacy policy sections", "",
    ]
    lines += [f"- **{key}** {text}" for key, text in POLICY_SECTIONS.items()]
    lines += ["", "## Headers on every request", "", *_field_rows(COMMON_HEADERS), "", "## Requests", ""]
    for request_type in cat.types:
        lines += _request_section(request_type)
    lines += ["## What else leaves, or is seen", "",
              "Not requests of the Manager's own, but part of using it; declared here all the same.", "",
              "| what | in short | who sees it | policy |", "|---|---|---|---|"]
    lines += [f"| {d.title} | {d.what} | {d.who_sees} | {d.policy} |" for d in DISCLOSURES]
    lines += ["", "## What the server keeps", "", "| what | how long | why |", "|---|---|---|"]
    lines += [f"| {k.what} | {k.how_long} | {k.why} |" for k in SERVER_KEEPS]
    lines += ["", "## Error codes", "", "| code | meaning |", "|---|---|"]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in ERROR_CODES.items()]
    lines.append("")
    for title, body in EXTRA_SECTIONS:
        lines += [f"## {title}", "", body.strip(), ""]
    lines += ["## Offline activation request file", "",
              "Written by `crystal-manager activate KEY --request-file F`; it holds no secret.", "",
              *_field_rows(OFFLINE_REQUEST_FIELDS), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
