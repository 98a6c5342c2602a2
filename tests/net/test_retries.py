"""What the gateway retries and what it never does: a request that changes something on the server (not
idempotent in the catalog) is sent once whatever happens; ``Retry-After`` is honoured as seconds or as an
HTTP date, up to a bound; and a download is cut off at its total deadline (trickle defence). Against real
misbehaving servers on loopback that count every request they receive."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from crystal_manager.net.errors import TimedOut, TransportError
from crystal_manager.net.gateway import Gateway, GatewayConfig
from crystal_manager.net.request import OutboundRequest
from crystal_manager.net.retry import retry_after_seconds, retry_wait
from crystal_manager.privacy.catalog import default_catalog
from crystal_manager.privacy.ledger import Ledger
from crystal_protocol.wire import NONCE_HEADER
from tests.support.misbehaving import (
    Behaviour,
    MisbehavingServer,
    http_response,
    in_turn,
    misbehaving,
    reset,
    respond,
    trickle,
)

KEY = "CM3D-7QK2M-X9RTA-4HV0C-Q7F3A"
CLAIM: dict[str, Any] = {"key": KEY, "fingerprint": "v1:" + "cd" * 32, "fingerprint_version": "v1",
                         "environment": "physical", "os": "Linux"}
#: A body the catalog accepts for each POST (the gateway checks it against the catalog before sending).
BODIES: dict[str, dict[str, Any]] = {
    "license_activate": CLAIM, "license_validate": CLAIM, "license_deactivate": {"key": KEY},
}
NOT_IDEMPOTENT = sorted(r.kind for r in default_catalog().types if not r.idempotent)
OK = http_response("200 OK", b'{"status":"ok"}')


def gateway_for(server: MisbehavingServer, tmp_path: Path, waits: list[float], **config: Any) -> Gateway:
    return Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger.jsonl"),
                   config=GatewayConfig(**config), sleep=waits.append)


def post(kind: str) -> OutboundRequest:
    return OutboundRequest(kind=kind, body=BODIES[kind], headers={NONCE_HEADER: "q3b1Zp0m9yS6JxkQ2c1vYw"})


def test_every_request_that_changes_something_is_covered_here() -> None:
    assert NOT_IDEMPOTENT == ["license_activate", "license_deactivate"]
    assert set(NOT_IDEMPOTENT) <= set(BODIES)


FAILURES: dict[str, Behaviour] = {
    "503 retry now": respond(http_response("503 Service Unavailable", b"{}", extra="Retry-After: 0\r\n")),
    "502": respond(http_response("502 Bad Gateway", b"{}")),
    "429 retry now": respond(http_response("429 Too Many Requests", b"{}", extra="Retry-After: 0\r\n")),
    "connection reset after the request": reset(),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("kind", NOT_IDEMPOTENT)
def test_a_request_that_changes_something_is_never_retried(kind: str, failure: str, tmp_path: Path) -> None:
    waits: list[float] = []
    with misbehaving(in_turn(FAILURES[failure], respond(OK))) as server, \
            gateway_for(server, tmp_path, waits, max_attempts=3) as gateway:
        try:
            status: int | None = gateway.send(post(kind)).status
        except TransportError:
            status = None
        assert len(server.requests) == 1, "sent more than once"
        assert server.requests[0].startswith(b"POST ")
    assert status in (None, 429, 502, 503) and waits == []
    assert [e["attempt"] for e in gateway.ledger.entries()] == [1]


@pytest.mark.parametrize("failure", FAILURES)
def test_the_same_failures_are_retried_for_a_request_that_changes_nothing(failure: str, tmp_path: Path) -> None:
    # The contrast that shows the server above would have received a retry: a validation is idempotent.
    waits: list[float] = []
    with misbehaving(in_turn(FAILURES[failure], respond(OK))) as server, \
            gateway_for(server, tmp_path, waits, max_attempts=3) as gateway:
        assert gateway.send(post("license_validate")).status == 200
        assert len(server.requests) == 2
    assert len(waits) == 1


def _unavailable_until(when: datetime) -> bytes:
    date = format_datetime(when, usegmt=True)
    return http_response("503 Service Unavailable", b"{}", extra=f"Retry-After: {date}\r\n")


def test_retry_after_as_an_http_date_is_waited_for(tmp_path: Path) -> None:
    def until_in_three_seconds(conn: Any, _request: bytes) -> None:
        conn.sendall(_unavailable_until(datetime.now(UTC) + timedelta(seconds=3)))

    waits: list[float] = []
    with misbehaving(in_turn(until_in_three_seconds, respond(OK))) as server, \
            gateway_for(server, tmp_path, waits) as gateway:
        assert gateway.send(OutboundRequest(kind="health")).status == 200
        assert len(server.requests) == 2
    [wait] = waits
    assert 1.0 <= wait <= 3.0  # the date has whole seconds: up to one less than asked
    assert [e["status"] for e in gateway.ledger.entries()] == [503, 200]


@pytest.mark.parametrize(("retry_after", "retried"), [
    (timedelta(hours=1), False),      # too far: the answer is returned, not waited for
    (timedelta(seconds=-30), True),   # already past: retried at once
])
def test_retry_after_dates_are_bounded(retry_after: timedelta, retried: bool, tmp_path: Path) -> None:
    raw = _unavailable_until(datetime.now(UTC) + retry_after)
    waits: list[float] = []
    with misbehaving(in_turn(respond(raw), respond(OK))) as server, \
            gateway_for(server, tmp_path, waits, max_retry_wait=10.0) as gateway:
        status = gateway.send(OutboundRequest(kind="health")).status
        assert len(server.requests) == (2 if retried else 1)
    assert (status, waits) == ((200, [0.0]) if retried else (503, []))


NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 0 ", 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),        # the preferred format (IMF-fixdate)
    ("Wednesday, 21-Oct-15 07:28:00 GMT", 30.0),    # obsolete RFC 850 format, still to be accepted
    ("Wed Oct 21 07:28:00 2015", 30.0),             # obsolete asctime format (no zone: GMT)
    ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),         # past
    ("-5", None), ("1.5", None), ("soon", None), ("", None), ("Wed, 99 Oct 2015 07:28:00 GMT", None),
])
def test_retry_after_values(value: str, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


@pytest.mark.parametrize("how", ["config", "argument"])
def test_a_trickled_download_is_cut_off_at_its_deadline(how: str, tmp_path: Path) -> None:
    config: dict[str, Any] = {"max_attempts": 1, "read_timeout": 5.0}
    if how == "config":
        config["download_deadline"] = 0.5
    out = bytearray()
    waits: list[float] = []
    started = time.monotonic()
    with misbehaving(trickle(0.05, 10)) as server, gateway_for(server, tmp_path, waits, **config) as gateway, \
            pytest.raises(TimedOut, match="trickling"):
        gateway.download(OutboundRequest(kind="update_target", path_params={"name": "blob.bin"}), out.extend,
                         max_bytes=100_000, deadline=0.5 if how == "argument" else None)
    assert time.monotonic() - started < 5
    [entry] = gateway.ledger.entries()
    assert entry["error"] == "TimedOut" and entry["status"] == 200
    # What arrived in time was handed on (the caller keeps it to resume); only the late piece was not.
    assert 0 < len(out) < entry["bytes_received"] < 100_000


def test_the_backoff_grows_with_jitter_and_stops_at_the_last_attempt() -> None:
    def wait(attempt: int, retry_after: str | None = None) -> float | None:
        return retry_wait(attempt, retry_after, max_attempts=4, backoff_base=0.5, max_wait=10.0, now=NOW)

    for attempt, base in ((1, 0.5), (2, 1.0), (3, 2.0)):
        waits = [wait(attempt) for _ in range(50)]
        assert all(w is not None and base * 0.5 <= w <= base * 1.5 for w in waits)
        assert len(set(waits)) > 1  # jitter: clients that failed together do not come back together
    assert wait(4) is None and wait(4, "0") is None  # the last attempt's answer is handed back
    assert wait(1, "10") == 10.0 and wait(1, "11") is None  # more than max_wait: not waited for
    assert wait(1, "Wed, 21 Oct 2015 07:27:35 GMT") == 5.0


def test_a_waiting_person_gets_an_answer_within_the_budget() -> None:
    from crystal_manager.net.retry import attempt_timeouts, within_budget

    assert within_budget(0.5, elapsed=20.1, budget=20.0) is None  # a hanging first attempt used it all
    assert within_budget(0.5, elapsed=1.0, budget=20.0) == 0.5  # a refused connection: time to try again
    assert within_budget(0.5, elapsed=60.0, budget=None) == 0.5  # scheduled checks keep every retry
    assert within_budget(None, elapsed=0.0, budget=20.0) is None
    assert attempt_timeouts(15.0, 20.0, connect=10.0, read=20.0) == (5.0, 5.0)
    assert attempt_timeouts(0.0, None, connect=10.0, read=20.0) == (10.0, 20.0)


def test_a_reset_connection_is_said_without_an_errno() -> None:
    import httpx

    from crystal_manager.net.gateway import _translate

    error = _translate(httpx.ReadError("[Errno 104] Connection reset by peer"), "127.0.0.1")
    assert str(error) == "127.0.0.1 broke the connection: connection reset by peer"
