"""Plain words the privacy views share: how a recorded request ended (no class names or status codes),
and what a request sends as a short deduplicated list (the Privacy page's summary, the Welcome text)."""

from __future__ import annotations

from typing import Any

from crystal_manager.privacy.catalog import Catalog, sent_in_words
from crystal_manager.services.privacy_view import LogLine, fields_in_words, log_lines, when_words

#: A transport failure as the ledger records it (the error's class name) -> what happened, in words.
TRANSPORT_WORDS = {
    "ConnectFailed": "the server could not be reached",
    "TimedOut": "the server did not answer in time",
    "TLSFailed": "no secure connection could be made (a proxy or TLS inspection may be in the way)",
    "ProxyFailed": "the proxy did not let the request through",
    "ResponseTooLarge": "the answer was far too large and was cut off",
    "ProtocolFailed": "the connection broke before the answer was complete",
}


def status_words(status: int, kind: str = "") -> str:
    """An HTTP status the server answered with, in words (never the number)."""
    if status < 300:
        return "answered"
    if status == 404 and kind == "update_metadata":
        return "answered: nothing newer"  # how the update check learns there is no newer signed list
    if status == 404 and kind.startswith("license_"):  # a signed licensing denial, not a missing file
        return "refused: the license or this computer is not on the server's list"
    if status == 404:
        return "the server had no such file"
    if status == 429:
        return "the server asked to wait (too many attempts)"
    if status >= 500:
        return "the server had a problem"
    return "refused by the server"


def outcome_words(entry: dict[str, Any]) -> str:
    """How a recorded request ended, in words."""
    if entry.get("state") == "pending":
        return "sent; no answer recorded (interrupted?)"
    error, status = entry.get("error"), entry.get("status")
    if error:
        return TRANSPORT_WORDS.get(str(error), "no answer")
    if isinstance(status, int):
        return status_words(status, str(entry.get("kind", "")))
    return "no answer"


def _os_family_named_twice(words: list[str]) -> list[str]:
    """Drop "and your operating system family" from the Manager's version when another item names it."""
    tail = " and your operating system family"
    kept: list[str] = []
    for word in words:
        others = [w for w in words if w is not word and "operating system family" in w]
        kept.append(word[: -len(tail)] if word.endswith(tail) and others else word)
    return kept


def sends_items(catalog: Catalog, kind: str) -> list[str]:
    """What a request of ``kind`` sends, each thing once (the count people read is the count of things)."""
    request_type = catalog.get(kind)
    return _os_family_named_twice(sent_in_words(request_type, catalog)) if request_type is not None else []


#: The request a "license check" is (about once a day); what the Welcome and the Privacy page both list.
LICENSE_CHECK_KIND = "license_validate"


def license_check_items(catalog: Catalog) -> list[str]:
    """What a license check sends: the ONE list the Welcome ("To check the license it sends…") and the
    Privacy page's summary ("it sends N things") both show, so the list and the count cannot differ (the
    activation sends two more: the machine's name and a key's public half, said where activation is)."""
    return sends_items(catalog, LICENSE_CHECK_KIND)


def activation_extra_items(catalog: Catalog) -> list[str]:
    """What an activation sends beyond a license check (for the activation dialog's own list)."""
    check = set(license_check_items(catalog))
    return [item for item in sends_items(catalog, "license_activate") if item not in check]


def as_sentences(items: list[str]) -> list[str]:
    """Each item as a short sentence of its own ("Your license key."), for a list people can scan."""
    return [f"{item[:1].upper()}{item[1:]}." for item in items if item]


def line_title(title: str, line: LogLine) -> str:
    """A log line's name: the request's title, or for an update check's files "Update information (4 files)"
    (the title's own explanation dropped: one parenthesis is enough)."""
    if line.count == 1:
        return title
    short = title.split(" (", 1)[0]
    what = "requests" if len(set(line.names)) == 1 else "files"  # a resumed download asks for one file twice
    return f"{short} ({line.count} {what})"


def sent_words(entry: dict[str, Any]) -> str:
    """How much went out, and which try it was: "nothing sent (try 2)" when no connection was made."""
    sent = entry.get("bytes_sent", 0)
    attempt = entry.get("attempt")
    tried = f" (try {attempt})" if isinstance(attempt, int) and attempt > 1 else ""
    return (f"{sent} bytes sent" if sent else "nothing sent") + tried


def log_text(catalog: Catalog, entries: list[dict[str, Any]], *, exact: bool = False) -> list[str]:
    """``crystal-manager privacy log`` in words: a line per request, one per update check (its files named
    under it), each followed by what it carried (long codes shortened unless ``exact``)."""
    out: list[str] = []
    for line in log_lines(entries):
        first, ending = line.first, line.outcome
        request_type = catalog.get(line.kind)
        title = line_title(request_type.title if request_type is not None else line.kind or "?", line)
        who = "you asked" if first.get("trigger") == "user" else "automatic"
        sent = sent_words(first) if line.count == 1 else f"{line.bytes_sent} bytes sent"
        out.append(f"{when_words(str(first.get('ts', '')))}  {title} ({who}) to {first.get('host', '?')}: "
                   f"{outcome_words(ending)}; {sent}")
        if line.count == 1:
            data = fields_in_words(catalog, first, exact=exact)
            out.append("    sent: " + ("; ".join(data) if data else "nothing about you"))
            continue
        # Each file of the check, with its own ending where it differs from the line's.
        said = outcome_words(ending)
        files = [name + ("" if outcome_words(e) == said else f" ({outcome_words(e)})")
                 for name, e in zip(line.names, line.entries, strict=True)]
        out.append("    files: " + ", ".join(files))
    return out
