"""The licensing HTTP endpoints. Every answer, errors included, is signed over its body digest, date,
the request's method and path, and the client's nonce."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from crystal_protocol.licensekey import KeyProblem, key_digest
from crystal_protocol.messages import (
    AccessRequest,
    ActivateRequest,
    DeactivateAnswer,
    DeactivateRequest,
    ErrorAnswer,
    LeaseAnswer,
    MachinesRequest,
    MessageProblem,
    MessageT,
    OfflineAnswer,
    ValidateRequest,
    as_json,
    read,
)
from crystal_protocol.signing import (
    DATE_HEADER,
    DIGEST_HEADER,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    b64,
    body_digest,
    canonical_json,
    format_time,
    response_message,
)
from crystal_protocol.wire import LICENSE_PATHS, NONCE_HEADER
from crystal_server import keys, licenses, machines, store
from crystal_server.access import access_report
from crystal_server.group_commit import GroupCommit
from crystal_server.licenses import Denied
from crystal_server.throttle import ThrottleConfig, Window

_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_BODY = 64 * 1024
#: The whole body must arrive within this many seconds of its headers: a client that trickles it or stops
#: half-way would otherwise hold its connection, and a graceful shutdown (SIGTERM), for ever. An operator
#: may set another in ``DIR/server.json`` (``{"body_seconds": N}``, 0.1 to 300).
BODY_SECONDS = 10.0
#: After a 413 the rest of the body is read and thrown away up to this much (within BODY_SECONDS), so that a
#: client that sends its whole body before reading gets the answer; past it the connection is cut.
DRAIN_BYTES = 16 * 1024 * 1024
_NONCE_NAME = NONCE_HEADER.lower().encode()
Handler = Callable[[dict[str, Any], datetime, "str | None"], dict[str, Any]]


def load_throttle(data_dir: Path) -> ThrottleConfig:
    """Limits from ``DIR/server.json`` (``{"throttle": {...}}``), else the defaults."""
    try:
        raw = json.loads((data_dir / "server.json").read_text(encoding="utf-8")).get("throttle", {})
    except (OSError, ValueError, AttributeError):
        return ThrottleConfig()
    base = ThrottleConfig()
    return ThrottleConfig(window_seconds=float(raw.get("window_seconds", base.window_seconds)),
                          failures_per_address=int(raw.get("failures_per_address", base.failures_per_address)),
                          attempts_per_key=int(raw.get("attempts_per_key", base.attempts_per_key)))


def load_body_seconds(data_dir: Path) -> float:
    """The body deadline from ``DIR/server.json``, else BODY_SECONDS (also when the value is not a number
    from 0.1 to 300: a mistyped setting must not leave connections held for ever)."""
    try:
        value = json.loads((data_dir / "server.json").read_text(encoding="utf-8")).get("body_seconds")
    except (OSError, ValueError, AttributeError):
        return BODY_SECONDS
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 <= value <= 300:
        return BODY_SECONDS
    return float(value)


def current_key(data_dir: Path) -> keys.SigningKey:
    """The license signing key in use (see ``crystal-server keys``)."""
    try:
        return keys.signing_key(data_dir / "keys", "license")
    except LookupError as exc:
        raise RuntimeError(str(exc)) from exc


def signed_answer(key: keys.SigningKey, status: int, body: dict[str, Any], *, method: str, path: str, nonce: str,
                  headers: dict[str, str] | None = None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A JSON answer's bytes and its headers, signature headers included (``nonce``: the request's, if it
    has the nonce's format)."""
    raw = canonical_json(body).encode("utf-8")
    date = format_time(datetime.now(UTC))
    nonce = nonce if _NONCE.match(nonce) else ""
    digest = body_digest(raw)
    message = response_message(method=method, path=path, status=status, date=date, nonce=nonce, digest=digest)
    signed = {DATE_HEADER: date, DIGEST_HEADER: digest, KEY_ID_HEADER: key.kid,
              SIGNATURE_HEADER: b64(key.sign(message)), NONCE_HEADER: nonce, **(headers or {})}
    return raw, [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
                 *((name.lower().encode(), value.encode("latin-1")) for name, value in signed.items())]


class Endpoint:
    """One licensing route as a bare ASGI app (no Starlette request or response on the hot path; app.py
    sends POSTs to these paths here directly): read the body, answer through the API, send once committed."""

    def __init__(self, api: LicensingApi, handler: Handler, *, counts_key: bool, forgets: bool) -> None:
        self.api, self.handler, self.counts_key, self.forgets = api, handler, counts_key, forgets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(self.api.body_seconds):
                read = await _read_body(receive)
        except TimeoutError:
            await self._cut_off(scope, send, Denied("bad_request", "the body did not arrive in time", 408))
            return
        if read is None:
            return  # the client went away before its request was whole
        raw, whole = read
        if len(raw) > MAX_BODY:  # the database is not touched: no need to wait for a commit
            # Drain only a body still arriving: one already whole has nothing more to read (waiting for it
            # held the connection for BODY_SECONDS).
            await self._cut_off(scope, send, Denied("bad_request", "request too large", 413),
                                drain=None if whole else receive)
            return
        client = scope.get("client")
        address = client[0] if client else "?"
        await self.api.batch.ready()
        # From here to committed() nothing is awaited: no commit can start in between.
        status, body, extra = self.api.answer(raw, address, self.handler, self.counts_key, self.forgets)
        await self._send(scope, send, status, body, extra, committed=self.api.batch.committed())

    def _signed(self, scope: Scope, status: int, body: dict[str, Any],
                extra: dict[str, str] | None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        nonce = next((v.decode("latin-1") for k, v in scope["headers"] if k == _NONCE_NAME), "")
        return signed_answer(self.api.key, status, body, method=scope["method"], path=scope["path"], nonce=nonce,
                             headers=extra)

    async def _send(self, scope: Scope, send: Send, status: int, body: dict[str, Any], extra: dict[str, str] | None,
                    *, committed: asyncio.Future[None]) -> None:
        """Sign the answer and send it once ``committed`` is done."""
        data, headers = self._signed(scope, status, body, extra)
        await committed  # never answer before the writes the answer speaks of are on disk
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _cut_off(self, scope: Scope, send: Send, exc: Denied, *, drain: Receive | None = None) -> None:
        """Refuse a request whose body was not read to its end, and close the connection (uvicorn would
        otherwise read, and throw away, whatever the client goes on sending, for as long as it sends).
        ``drain``: the whole answer leaves at once, then up to DRAIN_BYTES more of the body are read first."""
        status, body, extra = _refusal(exc)
        data, headers = self._signed(scope, status, body, {**(extra or {}), "Connection": "close"})
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data, "more_body": drain is not None})
        if drain is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.api.body_seconds):
                left = DRAIN_BYTES
                while left > 0:
                    message = await drain()
                    if message["type"] == "http.disconnect" or not message.get("more_body", False):
                        break
                    left -= len(message.get("body", b""))
        await send({"type": "http.response.body", "body": b""})  # the answer ends: uvicorn closes the connection


def _refusal(exc: Denied) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """A denial as (status, error envelope, extra headers)."""
    retry = exc.error.retry_after
    return exc.status, as_json(ErrorAnswer(error=exc.error)), {"Retry-After": str(retry)} if retry else None


async def _read_body(receive: Receive) -> tuple[bytes, bool] | None:
    """The request body, cut just past MAX_BODY (the answer is then 413), and whether it arrived whole;
    None if the client disconnected."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        whole = not message.get("more_body", False)
        if size > MAX_BODY or whole:
            return b"".join(parts), whole


class LicensingApi:
    """The endpoint handlers over one database connection, signing key and throttle."""

    def __init__(self, data_dir: Path) -> None:
        self.key = current_key(data_dir)
        self.conn = store.connect(data_dir)
        self.batch = GroupCommit(self.conn)
        self.body_seconds = load_body_seconds(data_dir)
        limits = load_throttle(data_dir)
        self.failures = self._window("address", limits.failures_per_address, limits.window_seconds)
        self.per_key = self._window("key", limits.attempts_per_key, limits.window_seconds)

    def _window(self, bucket: str, limit: int, seconds: float) -> Window:
        """A throttle window whose events are stored, so a restart does not forget them. Rows are kept
        only as long as the window (addresses and key digests are not kept beyond their use)."""
        def record(name: str, at: float) -> None:
            self.batch.ensure_open()  # in the shared transaction: committed before the answer is sent
            self.conn.execute("INSERT INTO throttle_events (bucket, name, at) VALUES (?, ?, ?)", (bucket, name, at))
            self.conn.execute("DELETE FROM throttle_events WHERE bucket = ? AND at <= ?", (bucket, at - seconds))

        window = Window(limit, seconds, on_add=record)
        since = time.time() - seconds
        rows = self.conn.execute("SELECT name, at FROM throttle_events WHERE bucket = ? AND at > ? ORDER BY at",
                                 (bucket, since))
        window.seed((str(row["name"]), float(row["at"])) for row in rows)
        return window

    def _parse(self, raw: bytes) -> dict[str, Any]:
        if len(raw) > MAX_BODY:
            raise Denied("bad_request", "request too large", 413)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: deep nesting
            raise Denied("bad_request", "the body is not JSON", 400) from exc
        if not isinstance(body, dict):
            raise Denied("bad_request", "the body is not a JSON object", 400)
        return body

    def _throttle(self, address: str, digest: str | None, counts_key: bool) -> None:
        wait = self.failures.retry_after(address)
        if wait is not None:
            raise Denied("rate_limited", "too many failed attempts from this address", 429, retry_after=wait)
        if counts_key and digest is not None:
            wait = self.per_key.retry_after(digest)
            if wait is not None:
                raise Denied("rate_limited", "too many attempts with this key", 429, retry_after=wait)
            self.per_key.add(digest)

    def endpoint(self, handler: Handler, *, counts_key: bool = False, forgets: bool = False) -> Endpoint:
        """A route's ASGI app for a handler. ``forgets``: the handler deletes data, so the WAL is checkpointed
        after its commit (no page image of the deleted rows stays there)."""
        return Endpoint(self, handler, counts_key=counts_key, forgets=forgets)

    def answer(self, raw: bytes, address: str, handler: Handler, counts_key: bool,
               forgets: bool) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        """Throttle, parse and run one request in its savepoint of the shared transaction: (status, body,
        extra headers). Called once :meth:`GroupCommit.ready`; the caller sends the answer once what
        :meth:`GroupCommit.committed` returns right after is done."""
        try:
            body = self._parse(raw)
            digest = _digest_of(body)
            self._throttle(address, digest, counts_key)
            now = datetime.now(UTC)
            return 200, self.batch.run(lambda: handler(body, now, digest), forgets=forgets), None
        except Denied as exc:
            if exc.code in ("license_not_found", "invalid_key"):
                self.failures.add(address)
            return _refusal(exc)

    def lookup(self, digest: str | None) -> licenses.License | None:
        """The license for a key digest; a malformed key is a denial counted as a failure."""
        if digest is None:
            raise Denied("invalid_key", "the license key is malformed", 400)
        return licenses.by_digest(self.conn, digest)

    def activate(self, data: dict[str, Any], now: datetime, digest: str | None) -> dict[str, Any]:
        """POST activate."""
        claim = machines.MachineClaim.of(parse(ActivateRequest, data))
        machine_id, lease = machines.activate(self.conn, now, self.lookup(digest), claim, self.key)
        return as_json(LeaseAnswer(machine_id=machine_id, lease=lease))

    def validate(self, data: dict[str, Any], now: datetime, digest: str | None) -> dict[str, Any]:
        """POST validate."""
        claim = machines.MachineClaim.of(parse(ValidateRequest, data))
        machine_id, lease = machines.validate(self.conn, now, self.lookup(digest), claim, self.key)
        return as_json(LeaseAnswer(machine_id=machine_id, lease=lease))

    def deactivate(self, data: dict[str, Any], now: datetime, digest: str | None) -> dict[str, Any]:
        """POST deactivate: this machine (by its claim) or another by ``machine_id``."""
        request = parse(DeactivateRequest, data)
        lic = self.lookup(digest)
        claim = machines.MachineClaim.reference(request) if request.machine_id is None else None
        gone = machines.deactivate(self.conn, now, lic, claim, request.machine_id)
        assert lic is not None
        return as_json(DeactivateAnswer(deactivated=gone, seats_used=licenses.active_machine_count(self.conn, lic.id),
                                     seats_total=lic.seats))

    def listing(self, data: dict[str, Any], now: datetime, digest: str | None) -> dict[str, Any]:
        """POST machines."""
        request = parse(MachinesRequest, data)
        return machines.listing(self.conn, self.lookup(digest), request.fingerprint)

    def access(self, data: dict[str, Any], now: datetime, digest: str | None) -> dict[str, Any]:
        """POST access: everything stored about the license of this key (the right of access, §9)."""
        parse(AccessRequest, data)
        lic = self.lookup(digest)
        if lic is None:
            raise Denied("license_not_found", "no license has this key", 404)
        return access_report(self.conn, lic.id)

    def offline(self, data: dict[str, Any], now: datetime, digest: str | None) -> dict[str, Any]:
        """POST offline/answer: what a web portal calls with an uploaded request file and the key typed in.

        The request file is not secret (it carries only the key's digest), so the digest alone must not
        activate anything: the caller proves it holds the key itself.
        """
        if not isinstance(data.get("key"), str):
            raise Denied("bad_request", "the license key is required with an offline request", 400)
        if digest is None:
            raise Denied("invalid_key", "the license key is malformed", 400)
        request = machines.read_offline_request(data.get("request"))
        if request.key_digest != digest:
            raise Denied("bad_document", "the request file was not made with this license key", 400)
        return as_json(OfflineAnswer(response=machines.offline_answer(self.conn, now, data.get("request"), self.key)))


def routes(data_dir: Path, api: LicensingApi | None = None) -> list[Route]:
    """The licensing routes for a server folder (over ``api`` when given: one throttle for every route)."""
    api = api if api is not None else LicensingApi(data_dir)
    return [
        Route(LICENSE_PATHS["activate"], api.endpoint(api.activate, counts_key=True), methods=["POST"]),
        Route(LICENSE_PATHS["validate"], api.endpoint(api.validate), methods=["POST"]),
        Route(LICENSE_PATHS["deactivate"], api.endpoint(api.deactivate, forgets=True), methods=["POST"]),
        Route(LICENSE_PATHS["machines"], api.endpoint(api.listing), methods=["POST"]),
        Route(LICENSE_PATHS["access"], api.endpoint(api.access, counts_key=True), methods=["POST"]),
        Route(LICENSE_PATHS["offline_answer"], api.endpoint(api.offline, counts_key=True), methods=["POST"]),
    ]


def parse(message_type: type[MessageT], data: dict[str, Any]) -> MessageT:
    """A request body as its message; Denied(bad_request) naming the member that does not fit."""
    try:
        return read(message_type, data)
    except MessageProblem as exc:
        raise Denied("bad_request", f"the request does not fit: {exc}", 400) from exc


def _digest_of(body: dict[str, Any]) -> str | None:
    """The key digest from ``key`` (online) or ``request.key_digest`` (offline); None if malformed."""
    if isinstance(body.get("key"), str):
        try:
            return key_digest(body["key"])
        except KeyProblem:
            return None
    request = body.get("request")
    if isinstance(request, dict) and isinstance(request.get("key_digest"), str):
        return str(request["key_digest"])
    return None
