"""What the Privacy page's lists hold, as rows of words: built from the catalog, the ledger and the local
facts, with no widgets (so tests and the page read one set of words). Catalog texts are shown through
:func:`core_tr` (see docs/decisions/0007-translation-context.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from PySide6.QtCore import QCoreApplication

from crystal_manager.gui.texts import fmt_when, tr
from crystal_manager.privacy.catalog import NONCE_FIELD, SERVER_KEEPS, Catalog, FieldSpec, RequestType
from crystal_manager.privacy.policy import section_title, section_words
from crystal_manager.services.privacy_view import LogLine, log_lines, short_value

#: Where a ledger entry's data links to: ``decl:<kind>:<field name>``.
LINK_PREFIX = "decl:"
#: Where an update check's line links to one of its requests: ``entry:<ledger id>``.
ENTRY_PREFIX = "entry:"
#: The date filter's choices: label and how many days back (None: all).
PERIODS: tuple[tuple[str, int | None], ...] = (
    ("Any time", None), ("Today", 0), ("Last 7 days", 7), ("Last 30 days", 30))


def core_tr(text: str) -> str:
    """A text of the Qt-free core (the catalog, the policy) in the user's language where a translation
    exists; the core keeps English, the GUI looks each text up as it shows it."""
    return QCoreApplication.translate("catalog", text) if text else text


def error_words(error: str) -> str:
    """A transport error in words (the ledger keeps the class name)."""
    words = {"ConnectFailed": tr("no answer: server not reachable"), "TimedOut": tr("no answer: it took too long"),
             "TLSFailed": tr("no answer: the secure connection failed"),
             "ProxyFailed": tr("no answer: the proxy failed"),
             "ResponseTooLarge": tr("stopped: the answer was too large"),
             "ProtocolFailed": tr("no answer: broken connection"), "KeyboardInterrupt": tr("interrupted"),
             "_Stop": tr("paused or cancelled by you"), "LedgerUnwritable": tr("not sent: the log could not be "
                                                                              "written")}
    return words.get(error, tr("no answer"))


def result_words(entry: dict[str, Any]) -> str:
    """How a request ended, in words."""
    if entry.get("state") == "pending":
        return tr("sent; no answer recorded (interrupted?)")
    error, status = entry.get("error"), entry.get("status")
    if error:
        return error_words(str(error))
    if isinstance(status, int) and status < 300:
        return tr("answered")
    if status == 404 and entry.get("kind") == "update_metadata":
        return tr("answered: nothing newer")  # how the update check learns there is no newer signed list
    return refusal_words(status) if isinstance(status, int) else tr("no answer")


def refusal_words(status: int) -> str:
    """A refusal by the server in words (the log keeps the number)."""
    if status == 429:
        return tr("refused by the server: too many requests, it asked to wait")
    if status in (401, 403):
        return tr("refused by the server: not allowed")
    if status == 404:
        return tr("refused by the server: not found")
    if status >= 500:
        return tr("not answered: the server had a problem")
    return tr("refused by the server")


def policy_title(section: str) -> str:
    """The policy's own heading for ``section`` (no section sign)."""
    return core_tr(section_title(section))


def title_of(catalog: Catalog, kind: str) -> str:
    """A request type's title in words (the raw kind only if the catalog does not know it)."""
    request_type = catalog.get(kind)
    return core_tr(request_type.title) if request_type is not None else tr("Another request")


def declared_fields(catalog: Catalog, request_type: RequestType) -> list[FieldSpec]:
    """A request type's own fields, its one-time number when signed, then what every request carries."""
    return [*request_type.fields, *((NONCE_FIELD,) if request_type.signed_response else ()),
            *catalog.common_headers]


def catalog_rows(catalog: Catalog, values: dict[str, dict[str, str]] | None = None) -> tuple[
        list[list[str]], list[tuple[str, str]]]:
    """Per request type: a heading row (its title, ``field name`` ""), then one row per datum it may
    carry — the datum in words and this computer's value (masked) or an example; for each row its
    (kind, field name), so the log can link to it. What every request carries is listed once, at the end,
    under "Every request" (kind ``*``)."""
    rows: list[list[str]] = []
    keys: list[tuple[str, str]] = []
    mine = values or {}
    for request_type in catalog.types:
        rows.append([core_tr(request_type.title), ""])
        keys.append((request_type.kind, ""))
        own = [*request_type.fields, *((NONCE_FIELD,) if request_type.signed_response else ())]
        for spec in own:
            shown = mine.get(request_type.kind, {}).get(spec.name)
            example = "…" + spec.example[-4:] if spec.secret else spec.example
            # A long code as the key is shown: short (its tooltip holds it exactly, see MaySendTab).
            rows.append([core_tr(spec.plain or spec.name), short_value(spec.name, shown) if shown is not None
                         else tr("e.g. %1").replace("%1", example)])
            keys.append((request_type.kind, spec.name))
        if not own:
            rows.append([tr("nothing about you"), ""])
            keys.append((request_type.kind, ""))
    rows.append([tr("Every request"), ""])
    keys.append(("*", ""))
    common = mine.get("health", {})
    for spec in catalog.common_headers:
        value = common.get(spec.name, spec.example)
        # The web's own values ("application/json", "keep-alive") in words; the exact values of a request
        # are in its details, under "Technical details".
        words = _header_value_words(value)
        rows.append([core_tr(spec.plain) or _header_words(spec.name),
                     words if words is not None else
                     value if spec.name in common else tr("e.g. %1").replace("%1", value)])
        keys.append(("*", spec.name))
    return rows, keys


def declaration_html(catalog: Catalog, kind: str, name: str) -> str:
    """One declared datum in words: what it is for, when it is sent, the policy's own words, what the
    vendor keeps (rich text for the page's detail)."""
    request_type = catalog.get(kind)
    spec: FieldSpec | None = None
    if request_type is not None:
        spec = next((f for f in declared_fields(catalog, request_type) if f.name == name), None)
    elif kind == "*":
        spec = next((f for f in catalog.common_headers if f.name == name), None)
        if spec is None:
            return escape(tr("Every request carries these, as the web requires; none of them is about you "
                             "except the Manager's version and your operating system family."))
    parts: list[str] = []
    if request_type is not None:
        parts.append(f"<b>{escape(core_tr(request_type.title))}</b> — {escape(core_tr(request_type.purpose))}")
        parts.append(escape(tr("When: %1").replace("%1", core_tr(request_type.when))))
    if spec is not None:
        parts.append(f"<b>{escape(core_tr(spec.plain or spec.name))}</b>: {escape(core_tr(spec.why))}")
        parts.append(escape(tr("Kept by the vendor: %1").replace("%1", core_tr(spec.retention))))
        section = spec.policy
    elif request_type is not None:
        section = request_type.policy[0]
    else:
        return ""
    parts.append(escape(tr("The privacy policy, “%1”: %2").replace("%1", policy_title(section))
                        .replace("%2", core_tr(section_words(section).split(": ", 1)[-1]))))
    return "<br>".join(parts)


def _in_period(entry: dict[str, Any], days: int | None, now: datetime) -> bool:
    if days is None:
        return True
    try:
        moment = datetime.fromisoformat(str(entry.get("ts", "")).replace("Z", "+00:00"))
    except ValueError:
        return True
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = now.astimezone()
    start = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    return moment >= start


def filtered(entries: Sequence[dict[str, Any]], kind: str | None, days: int | None,
             now: datetime | None = None) -> list[dict[str, Any]]:
    """Entries of ``kind`` (all when None) within the last ``days`` days (today when 0, all when None)."""
    moment = now or datetime.now(UTC)
    return [e for e in entries if (kind is None or e.get("kind") == kind) and _in_period(e, days, moment)]


def line_title(catalog: Catalog, line: LogLine) -> str:
    """A log line's name: the request's title, or an update check's "Update information (4 files)"."""
    title = title_of(catalog, line.kind)
    if line.count == 1:
        return title
    many = tr("%1 (%2 requests)") if len(set(line.names)) == 1 else tr("%1 (%2 files)")
    return many.replace("%1", title.split(" (", 1)[0]).replace("%2", str(line.count))


def ledger_rows(lines: Sequence[LogLine], catalog: Catalog) -> list[list[str]]:
    """Newest first, one row per line (an update check's files are one): when, what, who asked, how it
    ended, size (the data itself is in the detail)."""
    rows: list[list[str]] = []
    for line in reversed(lines):
        rows.append([fmt_when(str(line.first.get("ts") or "")), line_title(catalog, line),
                     tr("you asked") if line.first.get("trigger") == "user" else tr("automatic"),
                     result_words(line.outcome), tr("%1 bytes sent").replace("%1", str(line.bytes_sent))])
    return rows


def line_html(catalog: Catalog, line: LogLine) -> str:
    """An update check's line: each file it fetched, how that ended and its size, each linked to its own
    request's details (one record per request: nothing is hidden, only folded)."""
    items = "".join(
        f'<li><a href="{ENTRY_PREFIX}{escape(str(e.get("id", "")))}">{escape(name)}</a> — '
        f"{escape(result_words(e))}, {escape(tr('%1 bytes sent').replace('%1', str(e.get('bytes_sent', 0))))}</li>"
        for name, e in zip(line.names, line.entries, strict=True))
    return (f"<b>{escape(line_title(catalog, line))}</b> — {escape(fmt_when(str(line.first.get('ts') or '')))}<br>"
            + escape(tr("One update check asks for several signed files, one request each; each is recorded. "
                        "Select a file to see exactly what its request sent:")) + f"<ul>{items}</ul>")


def datum_words(spec: FieldSpec) -> str:
    """A declared datum in words (the web's own headers too)."""
    return core_tr(spec.plain) if spec.plain else _header_words(spec.name)


def _header_words(name: str) -> str:
    """What the web's own headers are, in words."""
    words = {"host": tr("the server's name"), "accept": tr("the answer format it reads"),
             "accept-encoding": tr("asks for answers not compressed"),
             "connection": tr("keep the connection open"), "content-length": tr("the size of the data"),
             "content-type": tr("the format of the data")}
    return words.get(name.lower(), name)


def _header_value_words(value: str) -> str | None:
    """A web header's usual value in words (None: show the value itself, e.g. a size or a name)."""
    words = {"application/json": tr("structured text data"), "identity": tr("not compressed"),
             "keep-alive": tr("kept open for the next request")}
    return words.get(value.strip().lower())


def entry_html(catalog: Catalog, entry: dict[str, Any], *, exact: bool = False) -> str:
    """What one request sent: each datum as recorded (the key masked, as recorded; long codes shortened
    like it unless ``exact``), linked to its declaration, then its headers, where it went and the bytes
    both ways."""
    kind = str(entry.get("kind", ""))
    request_type = catalog.get(kind)
    fields = dict(entry.get("fields") or {})
    order = [spec.name for spec in request_type.fields] if request_type is not None else []
    names = [n for n in order if n in fields] + sorted(n for n in fields if n not in order)

    def link(name: str, header: bool) -> str:
        spec = None
        if request_type is not None:
            spec = catalog.header_spec(request_type, name) if header else request_type.field_named(name, "body") \
                or request_type.field_named(name, "path")
        words = core_tr(spec.plain) if spec is not None and spec.plain else _header_words(name)
        target = "*" if header and spec in catalog.common_headers else kind
        return f'<a href="{LINK_PREFIX}{escape(target)}:{escape(spec.name if spec else name)}">{escape(words)}</a>'

    def value(name: str) -> str:
        return str(fields[name]) if exact else short_value(name, fields[name])

    data = "".join(f"<li>{link(n, False)}: <code>{escape(value(n))}</code></li>" for n in names)
    headers = "".join(f"<li>{link(str(k), True)}: <code>{escape(str(v))}</code></li>"
                      for k, v in (entry.get("headers") or {}).items())
    where = tr("Sent to %1, %2 bytes out, %3 bytes back.").replace("%1", str(entry.get("host", ""))) \
        .replace("%2", str(entry.get("bytes_sent", 0))).replace("%3", str(entry.get("bytes_received", 0)))
    return (f"<b>{escape(title_of(catalog, kind))}</b> — {escape(fmt_when(str(entry.get('ts') or '')))}<br>"
            + escape(tr("Data:")) + (f"<ul>{data}</ul>" if data else " " + escape(tr("nothing about you")) + "<br>")
            + escape(tr("Technical details sent with it, as every program on the web sends them (select one to "
                        "see why):")) + f"<ul>{headers}</ul>" + escape(where))


def next_check_words(when: str) -> str:
    """"1 Dec 2026, 05:59 (in 23 hours)": the next license check, with how far off it is."""
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return fmt_when(when)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    minutes = int((moment - datetime.now(UTC)).total_seconds() // 60)
    if minutes <= 0:
        ahead = tr("due now")
    elif minutes < 90:
        ahead = tr("in %1 minutes").replace("%1", str(max(1, minutes)))
    elif minutes < 48 * 60:
        ahead = tr("in %1 hours").replace("%1", str(round(minutes / 60)))
    else:
        ahead = tr("in %1 days").replace("%1", str(round(minutes / 1440)))
    return f"{fmt_when(when)} ({ahead})"


def summary_html(catalog: Catalog, entries: Sequence[dict[str, Any]], next_check: str | None = None) -> str:
    """The summary in plain words: how many things a license check sends and which, what updates send,
    the last request and the next license check."""
    from crystal_manager.services.privacy_words import license_check_items

    words = license_check_items(catalog)  # the Welcome's list too: each thing once, the same count
    items = "; ".join(escape(core_tr(word)) for word in words)
    done = log_lines([e for e in entries if e.get("kind")])
    if done:
        last = done[-1]  # an update check's files: one thing sent, as the log shows it
        last_words = tr("Last sent: %1 — %2 (%3).").replace("%1", fmt_when(str(last.first.get("ts") or ""))) \
            .replace("%2", line_title(catalog, last)).replace("%3", result_words(last.outcome))
    else:
        last_words = tr("Nothing has been sent from this computer yet.")
    upcoming = ""
    if next_check:
        upcoming = " " + tr("Next license check: %1.").replace("%1", next_check_words(next_check))
    return ("<p><b>" + tr("This app sends only what it needs to check your license and to offer updates, and "
                          "only to the CrystalMe3D Pro server. It never sends your files, images or projects.")
            + "</b></p><p>" + tr("To check your license (about once a day) it sends %1 things:")
            .replace("%1", str(len(words))) + f" {items}.</p>"
            + "<p>" + tr("To look for updates it sends only the names of the files it fetches, and the "
                         "Manager's version.") + "</p><p><b>" + escape(last_words) + "</b>" + escape(upcoming)
            + "</p>")


def vendor_rows(report: dict[str, Any]) -> list[list[str]]:
    """What the vendor's answer to the access request holds, in words."""
    lic = report.get("license") or {}
    statuses = {"active": tr("active"), "past_due": tr("payment overdue"), "cancelled": tr("cancelled"),
                "revoked": tr("revoked")}
    rows = [[tr("Your license"), tr("plan %1, %2 seats, %3; not the key itself, only a scrambled form of it that "
                                       "cannot be turned back into the key, and its last characters …%4")
             .replace("%1", str(lic.get("plan", "?"))).replace("%2", str(lic.get("seats", "?")))
             .replace("%3", statuses.get(str(lic.get("status")), tr("status unknown")))
             .replace("%4", str(lic.get("key_hint", "")))]]
    for machine in report.get("machines") or []:
        if machine.get("deactivated_at"):
            rows.append([tr("A deactivated computer"), tr("only its number and dates (deactivated %1)")
                         .replace("%1", fmt_when(str(machine.get("deactivated_at"))))])
        else:
            rows.append([tr("Computer “%1”").replace("%1", str(machine.get("label", ""))),
                         tr("%1, %2, activated %3, last seen %4").replace("%1", str(machine.get("os", "")))
                         .replace("%2", str(machine.get("environment", "")))
                         .replace("%3", fmt_when(str(machine.get("activated_at") or "")))
                         .replace("%4", fmt_when(str(machine.get("last_seen_at") or "")))])
    rows.append([tr("Events"), tr("%1 kept (activations, checks, deactivations; 90 days)")
                 .replace("%1", str(len(report.get("events") or [])))])
    rows.append([tr("Recent requests with your key"), tr("%1 (kept one minute, to slow down key guessing)")
                 .replace("%1", str(len(report.get("recent_requests") or [])))])
    return rows


def kept_rows() -> list[list[str]]:
    """What the vendor's server keeps, as the catalog declares it."""
    return [[core_tr(k.what), core_tr(k.how_long)] for k in SERVER_KEEPS]


def size_words(count: int) -> str:
    """A size as people read it."""
    if count < 1024:
        return tr("%1 bytes").replace("%1", str(count))
    if count < 1024 * 1024:
        return tr("%1 KB").replace("%1", f"{count / 1024:.1f}")
    return tr("%1 MB").replace("%1", f"{count / 1024 / 1024:.1f}")


def storage_rows(files: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Each file the app keeps: what it is, its size, where."""
    return [[core_tr(str(f.get("what", ""))), size_words(int(f.get("bytes", 0))), str(f.get("path", ""))]
            for f in files]
