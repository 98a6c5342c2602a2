"""The egress gateway: the only code that sends anything over the network.

Every request is checked against the data catalog (undeclared data is refused before anything is sent),
sent through one httpx client (explicit timeouts, OS trust store, proxies from the environment, no
cookies, a fixed minimal header set), retried with backoff and jitter only when idempotent, and
recorded in the ledger with secrets masked: the entry is written before the request is sent (if it
cannot be, nothing is sent) and completed with the outcome after.
"""

from __future__ import annotations

import platform
import re
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from crystal_manager import __version__
from crystal_manager.net.errors import (
    ConnectFailed,
    LedgerUnwritable,
    ProtocolFailed,
    ProxyFailed,
    ResponseTooLarge,
    TimedOut,
    TLSFailed,
    TransportError,
)
from crystal_manager.net.request import (
    GatewayResponse,
    OutboundRequest,
    check_base_url,
    check_headers,
    is_loopback_host,
    masked_fields,
    masked_headers,
    resolve,
)
from crystal_manager.net.retry import RETRYABLE_STATUS, attempt_timeouts, retry_wait, within_budget
from crystal_manager.privacy.catalog import Catalog, RequestType, default_catalog
from crystal_manager.privacy.ledger import Ledger

API_MAX_BYTES = 1024 * 1024


def os_family() -> str:
    """Linux, Windows or macOS: no more detail than that is sent."""
    system = platform.system()
    return {"Darwin": "macOS", "Windows": "Windows"}.get(system, "Linux" if system == "Linux" else "Other")


def user_agent() -> str:
    """The User-Agent header: app version and OS family only."""
    return f"CrystalMe3DProManager/{__version__} ({os_family()})"


@dataclass(frozen=True)
class GatewayConfig:
    """Tunables; the defaults are what the app uses."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    #: The whole of one attempt of ``send()``, from connecting to the answer's last byte (trickle defence).
    deadline: float = 60.0
    #: The same for one ``download()``: a file that has not arrived by then is cut off (TimedOut) and
    #: resumed by the next call (the updates downloader keeps its partial file for that).
    download_deadline: float = 3600.0
    max_attempts: int = 3
    backoff_base: float = 0.5
    max_retry_wait: float = 10.0
    #: The whole time a ``send()`` the user asked for (trigger "user") may take, every attempt and wait
    #: included: a person at a terminal or a button is told within this much (scheduled checks keep the
    #: full timeouts and retries; downloads have their own deadline).
    user_budget: float = 20.0


@dataclass(frozen=True)
class DownloadResult:
    """How a streamed download ended."""

    status: int
    received: int
    resumed: bool
    headers: dict[str, str]


@dataclass(frozen=True)
class _Attempt:
    """One attempt under way: its request, the answer's head, and its ledger entry."""

    request_type: RequestType
    built: httpx.Request
    response: httpx.Response
    entry_id: str
    started: float
    #: monotonic() by which the whole answer must have arrived (a user's budget), or None.
    budget_end: float | None = None


def wire_size(built: httpx.Request) -> int:
    """Bytes of the request as HTTP/1.1 puts them on the wire: request line, headers, blank line, body."""
    line = len(built.method) + 1 + len(built.url.raw_path) + len(b" HTTP/1.1\r\n")
    headers = sum(len(name) + 2 + len(value) + 2 for name, value in built.headers.raw)
    return line + headers + 2 + len(built.content)


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    import truststore

    ctx: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file is not None:
        # A development profile's own CA (trustme in tests); added to, not replacing, the OS store.
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


def _ssl_reason(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return getattr(seen, "verify_message", None) or seen.reason or str(seen)
        text = str(seen)
        if "CERTIFICATE_VERIFY_FAILED" in text or ("SSL" in text and "certificate" in text):
            return text
        seen = seen.__cause__ or seen.__context__
    return None


def _translate(exc: httpx.HTTPError, host: str) -> TransportError:
    if isinstance(exc, httpx.TimeoutException):
        return TimedOut(f"{host} did not answer in time")
    if isinstance(exc, httpx.ProxyError):
        return ProxyFailed(f"the proxy failed to reach {host}: {exc}")
    reason = _ssl_reason(exc)
    if reason is not None:
        return TLSFailed(f"secure connection to {host} failed: {reason}")
    if isinstance(exc, httpx.ConnectError):
        # "[Errno 111] Connection refused" → "connection refused": the number means nothing to people.
        reason = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)) or type(exc).__name__
        return ConnectFailed(f"cannot reach {host}: {reason[:1].lower()}{reason[1:]}")
    reason = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc))  # the errno means nothing to people
    return ProtocolFailed(f"{host} broke the connection" + (f": {reason[:1].lower()}{reason[1:]}" if reason else ""))


class Gateway:
    """Send catalog-declared requests to one server and record each in the ledger."""

    def __init__(self, *, base_url: str, ledger: Ledger, catalog: Catalog | None = None,
                 ca_file: Path | None = None, config: GatewayConfig | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        check_base_url(base_url)
        self.base_url = base_url.rstrip("/")
        self.ledger = ledger
        self.catalog = catalog or default_catalog()
        self.config = config or GatewayConfig()
        self._sleep = sleep
        host = urlsplit(self.base_url).hostname or ""
        self._host = host
        cfg = self.config
        self._client = httpx.Client(
            verify=_tls_context(ca_file),
            timeout=httpx.Timeout(cfg.read_timeout, connect=cfg.connect_timeout),
            # Loopback never goes through a proxy; everything else honours HTTPS_PROXY/NO_PROXY.
            trust_env=not is_loopback_host(host),
            follow_redirects=False,
            cookies=CookieJar(policy=_NoCookies()),
            headers={"User-Agent": user_agent(), "Accept": "application/json", "Accept-Encoding": "identity"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self, request: OutboundRequest) -> tuple[RequestType, httpx.Request]:
        request_type, path = resolve(self.catalog, request)
        built = self._client.build_request(
            request_type.method, self.base_url + path, params=dict(request.query) or None,
            json=dict(request.body) if request.body is not None else None, headers=dict(request.headers))
        # What httpx added (Host, Content-Length, …) is checked too: names and values, as they will go.
        check_headers(self.catalog, request_type, built.headers)
        return request_type, built

    def _begin(self, request_type: RequestType, request: OutboundRequest, built: httpx.Request,
               attempt: int) -> str:
        """Write the ledger entry (pending) before anything is sent; if it cannot be written, refuse."""
        try:
            return self.ledger.begin({
                "ts": datetime.now(UTC).isoformat(timespec="seconds"),
                "kind": request_type.kind,
                "method": built.method,
                "host": built.url.host,
                "path": built.url.raw_path.decode("ascii").partition("?")[0],
                "trigger": request.trigger,
                "fields": masked_fields(request_type, request),
                "headers": masked_headers(self.catalog, request_type, dict(built.headers)),
                "status": None,
                "error": None,
                "bytes_sent": wire_size(built),
                "bytes_received": 0,
                "attempt": attempt,
            })
        except OSError as exc:
            raise LedgerUnwritable(f"{request_type.kind}: the request could not be recorded in the privacy "
                                   f"log ({exc.strerror or exc}); not sent") from exc

    def _complete(self, entry_id: str, *, status: int | None, received: int, error: str | None,
                  started: float, nothing_sent: bool = False) -> None:
        """Write the outcome of a pending entry; ``nothing_sent``: the request never left (no connection), so
        the bytes the pending entry was about to send are corrected to 0."""
        outcome: dict[str, object] = {"status": status, "error": error, "bytes_received": received,
                                      "duration_ms": round((time.monotonic() - started) * 1000)}
        if nothing_sent:
            outcome["bytes_sent"] = 0
        try:
            self.ledger.complete(entry_id, outcome)
        except OSError:
            # The request is already recorded (as pending): an unwritable outcome must not lose the answer.
            return

    def _retry_wait(self, attempt: int, response_headers: httpx.Headers | None) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying (net/retry.py decides)."""
        cfg = self.config
        return retry_wait(attempt, response_headers.get("retry-after") if response_headers is not None else None,
                          max_attempts=cfg.max_attempts, backoff_base=cfg.backoff_base, max_wait=cfg.max_retry_wait)

    @contextmanager
    def _open(self, request: OutboundRequest, *, budget: float | None = None) -> Iterator[_Attempt]:
        """Send with retries; ``budget``: the seconds a waiting person allows for all of it (None: no bound
        besides the timeouts and attempts)."""
        request_type, built = self._build(request)
        cfg = self.config
        attempt = 0
        first = time.monotonic()
        while True:
            attempt += 1
            if budget is not None:
                connect, read = attempt_timeouts(time.monotonic() - first, budget, connect=cfg.connect_timeout,
                                                 read=cfg.read_timeout)
                built.extensions["timeout"] = httpx.Timeout(read, connect=connect).as_dict()
            entry_id = self._begin(request_type, request, built, attempt)
            started = time.monotonic()
            try:
                response = self._client.send(built, stream=True)
            except httpx.HTTPError as exc:
                error = _translate(exc, self._host)
                # No connection (refused, unreachable, connect timeout, failed TLS handshake): the request's
                # bytes never went out, and the log must not say they did.
                self._complete(entry_id, status=None, received=0, error=type(error).__name__, started=started,
                               nothing_sent=isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)))
                wait = self._retry_wait(attempt, None) if request_type.idempotent else None
                wait = within_budget(wait, time.monotonic() - first, budget)
                if wait is None:
                    raise error from exc
                self._sleep(wait)
                continue
            except BaseException as exc:  # ctrl-C while connecting or waiting: the entry says so
                self._complete(entry_id, status=None, received=0, error=type(exc).__name__, started=started)
                raise
            if response.status_code in RETRYABLE_STATUS and request_type.idempotent:
                wait = within_budget(self._retry_wait(attempt, response.headers), time.monotonic() - first,
                                     budget)
                if wait is not None:
                    response.close()
                    self._complete(entry_id, status=response.status_code, received=0, error=None,
                                   started=started)
                    self._sleep(wait)
                    continue
            try:
                yield _Attempt(request_type, built, response, entry_id, started,
                               budget_end=None if budget is None else first + budget)
            finally:
                response.close()
            return

    def _read(self, sent: _Attempt, write: Callable[[bytes], None], *, limit: int, too_large: str,
              deadline: float, progress: Callable[[int], None] | None = None,
              first: Callable[[], None] | None = None) -> int:
        """The one read loop: stream the answer's body into ``write`` and complete its ledger entry.

        At most ``limit`` bytes (else ResponseTooLarge with ``too_large``), and all of them within
        ``deadline`` seconds of the attempt's start: a server that sends a byte now and then never trips the
        read timeout, so the total is bounded here (else TimedOut). ``first`` runs before the first byte is
        read. Transport errors are translated; an exception from ``first``, ``write`` or ``progress`` (a pause,
        a full disk, ctrl-C) is recorded, then propagates. Returns the number of bytes received.
        """
        response = sent.response
        end = sent.started + deadline
        received = 0
        error: TransportError | None = None
        try:
            if first is not None:
                first()
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > limit:
                    error = ResponseTooLarge(too_large)
                    break
                if time.monotonic() > end:
                    error = TimedOut(f"{self._host} kept trickling past {deadline:.0f} s")
                    break
                write(chunk)
                if progress is not None:
                    progress(received)
        except httpx.HTTPError as exc:
            error = _translate(exc, self._host)
        except BaseException as exc:
            self._complete(sent.entry_id, status=response.status_code, received=received,
                           error=type(exc).__name__, started=sent.started)
            raise
        self._complete(sent.entry_id, status=response.status_code, received=received,
                       error=type(error).__name__ if error else None, started=sent.started)
        if error is not None:
            raise error
        return received

    def send(self, request: OutboundRequest, *, max_bytes: int = API_MAX_BYTES) -> GatewayResponse:
        """Send ``request`` and read the whole answer (at most ``max_bytes``, within the deadline)."""
        budget = self.config.user_budget if request.trigger == "user" else None
        with self._open(request, budget=budget) as sent:
            chunks: list[bytes] = []
            deadline = self.config.deadline
            if sent.budget_end is not None:
                deadline = min(deadline, max(0.1, sent.budget_end - sent.started))
            self._read(sent, chunks.append, limit=max_bytes, deadline=deadline,
                       too_large=f"answer from {self._host} exceeds {max_bytes} bytes")
            response = sent.response
            return GatewayResponse(status=response.status_code,
                                   headers={k.lower(): v for k, v in response.headers.items()},
                                   body=b"".join(chunks), method=sent.built.method, path=sent.built.url.path)

    def download(self, request: OutboundRequest, write: Callable[[bytes], None], *, offset: int = 0,
                 max_bytes: int, progress: Callable[[int], None] | None = None,
                 on_response: Callable[[int, dict[str, str]], None] | None = None,
                 deadline: float | None = None) -> DownloadResult:
        """Stream a file into ``write``; resume from ``offset`` with a Range request.

        If the server ignores the Range (answers 200), ``resumed`` is False and the caller must restart
        its file from zero: the bytes passed to ``write`` are then the whole file. ``on_response`` gets
        the status and headers before the first ``write``, so the caller can place the bytes (and keep
        the ETag) as they arrive. An exception from ``write`` or ``progress`` (a pause) is recorded in
        the ledger, then propagates. The file must have arrived within ``deadline`` seconds
        (``GatewayConfig.download_deadline`` unless given), else TimedOut: what arrived was written, so the
        caller can resume it.
        """
        headers = dict(request.headers)
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        ranged = OutboundRequest(kind=request.kind, body=request.body, query=request.query,
                                 path_params=request.path_params, headers=headers, trigger=request.trigger)
        with self._open(ranged) as sent:
            response = sent.response
            status = response.status_code
            resumed = offset > 0 and status == 206
            head = {k.lower(): v for k, v in response.headers.items()}
            if status not in (200, 206):  # an error answer: the caller decides from the status alone
                self._complete(sent.entry_id, status=status, received=0, error=None, started=sent.started)
                return DownloadResult(status=status, received=0, resumed=False, headers=head)
            start = offset if resumed else 0
            received = self._read(
                sent, write, limit=max_bytes - start, progress=(lambda n: progress(start + n)) if progress else None,
                first=(lambda: on_response(status, head)) if on_response else None,
                deadline=self.config.download_deadline if deadline is None else deadline,
                too_large=f"download exceeds its declared {max_bytes} bytes")
            return DownloadResult(status=status, received=received, resumed=resumed, headers=head)
