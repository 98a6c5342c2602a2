"""Attacks on the licensing server's throughput changes (P8, decision 0015): group commit
(crystal_server/group_commit.py), the licensing POSTs as bare ASGI endpoints (app.LicensingFirst), the 64 KiB
body cut-off, the memoised timestamp parser, uvicorn with httptools and uvloop.

An outsider's view: the real ``crystal-server serve`` as a child process, raw sockets and http.client, its
real SQLite files read by another connection (what a restarted server finds). A passing test is a defence
that holds; a test marked ``xfail(strict=True, reason="HOLE: …")`` shows a hole still open.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import signal
import socket
import sqlite3
import struct
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crystal_manager.cli.demo_server import start_server
from crystal_protocol import signing
from crystal_protocol.signing import body_digest, response_message
from crystal_protocol.wire import LICENSE_PATHS
from crystal_server import store
from crystal_server.group_commit import GroupCommit
from crystal_server.licensing import BODY_SECONDS, load_body_seconds
from tests.support.licensing import Issued, issue
from tests.support.server_kill import kill_server
from tests.support.servers import run_reference_server

VALIDATE, ACTIVATE, DELETE = LICENSE_PATHS["validate"], LICENSE_PATHS["activate"], LICENSE_PATHS["delete"]
Answer = tuple[int, dict[str, str], bytes]


# --- helpers -------------------------------------------------------------------------------------------------

def _post(url: str, path: str, body: object, *, nonce: str) -> Answer:
    """One POST on its own connection: (status, lower-cased headers, raw body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", path, body=raw, headers={"Content-Type": "application/json", "X-Crystal-Nonce": nonce})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _signed(server_dir: Path, answer: Answer, *, method: str, path: str, nonce: str) -> bool:
    """Whether the answer carries a signature by the server's license key over this request's path and nonce."""
    status, headers, raw = answer
    keys: dict[str, str] = json.loads((server_dir / "profile.json").read_text())["license_keys"]
    kid, signature = headers.get("x-crystal-key-id", ""), headers.get("x-crystal-signature", "")
    if kid not in keys or not signature or headers.get("x-crystal-digest") != body_digest(raw):
        return False
    message = response_message(method=method, path=path, status=status, date=headers.get("x-crystal-date", ""),
                               nonce=nonce, digest=body_digest(raw))
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[kid])).verify(base64.b64decode(signature), message)
    except Exception:
        return False
    return True


def _claim(key: str, fingerprint: str | None = None) -> dict[str, str]:
    return {"key": key, "fingerprint": fingerprint or "v1:" + secrets.token_hex(32), "fingerprint_version": "v1",
            "environment": "physical", "os": "Linux"}


def _count(server_dir: Path, sql: str, *params: object) -> int:
    """One number, read by another connection (only committed rows)."""
    with sqlite3.connect(store.db_path(server_dir)) as reader:
        return int(reader.execute(sql, params).fetchone()[0])


def _validated(server_dir: Path, lic: Issued) -> int:
    return _count(server_dir, "SELECT COUNT(*) FROM events WHERE license_id = ? AND kind = 'validated'",
                  lic.license_id)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _exchange(url: str, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection and read until the server closes it (or 10 s pass)."""
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:  # a timeout, or a reset once the server hung up on what it did not read
            pass
        return answer


def _in_parallel(jobs: list[Callable[[], None]]) -> None:
    """Run the jobs on their own threads, started together; wait for all."""
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        start.wait()
        job()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)


def _validator(url: str, claim: dict[str, str], statuses: list[int], count: int, tag: str) -> Callable[[], None]:
    def job() -> None:
        for n in range(count):
            statuses.append(_post(url, VALIDATE, claim, nonce=f"{tag}-{n:05d}")[0])
    return job


def _set_throttle(server_dir: Path, **limits: float) -> None:
    (server_dir / "server.json").write_text(json.dumps({"throttle": limits}))


# --- a group of requests: what one request does to the others -----------------------------------------------

def test_denied_malformed_and_oversized_requests_amid_a_group_leave_the_others_writes_whole(
        server_dir: Path) -> None:
    """Validations from eight clients while a ninth sends everything that fails at a different place: a bad
    key, not JSON, a body over 64 KiB, an activation past the seat limit, a deletion that names no machine
    (after its purge ran). Every validation answered is stored once; nothing a refused request wrote stays,
    except its throttle row; every answer is signed."""
    _set_throttle(server_dir, failures_per_address=1000)
    lic, full = issue(server_dir), issue(server_dir, seats=1)
    with sqlite3.connect(store.db_path(server_dir)) as seed:  # expired; of no bucket: only a purge removes it
        seed.execute("INSERT INTO throttle_events (bucket, name, at) VALUES ('marker', '203.0.113.7', 1.0)")
    claims = [_claim(lic.key) for _ in range(2)]
    statuses: list[int] = []
    refusals: list[tuple[str, int, bool]] = []
    with run_reference_server(server_dir) as server:
        for number, claim in enumerate(claims):
            assert _post(server.url, ACTIVATE, {**claim, "label": "Mine"}, nonce=f"mine-activate-{number}")[0] == 200
        assert _post(server.url, ACTIVATE, {**_claim(full.key), "label": "Only"}, nonce="only-activate-1")[0] == 200
        bad: list[tuple[str, str, object]] = [
            ("unknown key", VALIDATE, _claim("CM3D-ZZZZ-ZZZZ-ZZZZ-ZZZZ")),
            ("not json", VALIDATE, b"{not json"),
            ("oversized", VALIDATE, b'{"key": "' + b"A" * (70 * 1024) + b'"}'),
            ("seat limit", ACTIVATE, {**_claim(full.key), "label": "Second"}),
            ("names nothing", DELETE, {"key": full.key, "scope": "this_machine"}),
        ]

        def troublemaker() -> None:
            for round_ in range(4):
                for name, path, body in bad:
                    nonce = f"bad-{round_}-{name.replace(' ', '-')}"
                    answer = _post(server.url, path, body, nonce=nonce)
                    refusals.append((name, answer[0], _signed(server_dir, answer, method="POST", path=path,
                                                              nonce=nonce)))

        jobs = [_validator(server.url, claims[n % 2], statuses, 12, f"good-{n}") for n in range(8)]
        _in_parallel([*jobs, troublemaker])
    assert statuses == [200] * 96
    assert _validated(server_dir, lic) == 96
    assert sorted({(name, status) for name, status, _ in refusals}) == [
        ("names nothing", 400), ("not json", 400), ("oversized", 413), ("seat limit", 409), ("unknown key", 400)]
    assert all(signed for _, _, signed in refusals)
    # The refused activation left no machine and no event; the refused deletion's purge was rolled back.
    assert _count(server_dir, "SELECT COUNT(*) FROM machines WHERE license_id = ?", full.license_id) == 1
    assert _count(server_dir, "SELECT COUNT(*) FROM events WHERE license_id = ? AND kind = 'activated'",
                  full.license_id) == 1
    assert _count(server_dir, "SELECT COUNT(*) FROM throttle_events WHERE name = '203.0.113.7'") == 1
    assert _count(server_dir, "SELECT COUNT(*) FROM throttle_events WHERE bucket = 'address'") == 4


def test_the_failed_attempt_throttle_is_exact_under_concurrency_and_outlives_a_kill(server_dir: Path) -> None:
    """Thirty bad keys at once from one address: exactly the limit (10) are looked at, the rest refused, and
    the ten rows are on disk before any answer; after SIGKILL and a restart the next attempt is refused too.
    Thirty activations of one key at once: exactly its limit (20) pass."""
    lic = issue(server_dir, seats=1)
    claim = _claim(lic.key)
    per_key: list[int] = []
    guesses: list[int] = []
    with run_reference_server(server_dir) as running:
        try:
            def activate(n: int) -> None:
                per_key.append(_post(running.url, ACTIVATE, {**claim, "label": "Same"},
                                     nonce=f"same-key-{n:04d}")[0])

            def guess(n: int) -> None:  # malformed keys (groups of four): each a failed attempt
                guesses.append(_post(running.url, VALIDATE, _claim(f"CM3D-{n:04d}-ZZZZ-ZZZZ-ZZZZ"),
                                     nonce=f"guess-{n:04d}")[0])

            _in_parallel([partial(activate, n) for n in range(30)])
            _in_parallel([partial(guess, n) for n in range(30)])
        finally:
            kill_server(running)
    assert sorted(per_key) == [200] * 20 + [429] * 10
    assert sorted(guesses) == [400] * 10 + [429] * 20
    assert _count(server_dir, "SELECT COUNT(*) FROM throttle_events WHERE bucket = 'address'") == 10
    with run_reference_server(server_dir) as again:
        assert _post(again.url, VALIDATE, claim, nonce="after-the-kill")[0] == 429


def test_the_seat_limit_is_exact_when_many_machines_activate_in_one_group(server_dir: Path) -> None:
    """Twenty machines activating one three-seat license at once: each handler sees the seats the handlers
    before it in the shared transaction took, so exactly three get a seat, on disk as in the answers."""
    lic = issue(server_dir, seats=3)
    statuses: list[int] = []

    def activate(n: int) -> None:
        statuses.append(_post(server.url, ACTIVATE, {**_claim(lic.key), "label": f"Rush {n}"},
                              nonce=f"rush-{n:04d}")[0])

    with run_reference_server(server_dir) as server:
        _in_parallel([partial(activate, n) for n in range(20)])
    assert sorted(statuses) == [200] * 3 + [409] * 17
    assert _count(server_dir, "SELECT COUNT(*) FROM machines WHERE license_id = ? AND deactivated_at IS NULL",
                  lic.license_id) == 3


def test_a_deletion_amid_busy_validations_is_durable_and_out_of_the_files_before_its_answer(
        server_dir: Path) -> None:
    """A machine deleted while other clients keep validating: by the time its answer arrives the machine's
    label and fingerprint are in neither the database file nor the WAL (secure delete, WAL checkpoint),
    and a SIGKILL right after the answer does not bring it back."""
    busy, mine = issue(server_dir), issue(server_dir)
    label = "Erase-" + secrets.token_hex(8)
    gone = _claim(mine.key)
    busy_claim = _claim(busy.key)
    statuses: list[int] = []
    seen: dict[str, bytes] = {}
    with run_reference_server(server_dir) as running:
        try:
            assert _post(running.url, ACTIVATE, {**gone, "label": label}, nonce="erase-activate")[0] == 200
            assert _post(running.url, ACTIVATE, {**busy_claim, "label": "Busy"}, nonce="busy-activate")[0] == 200
            assert _post(running.url, VALIDATE, gone, nonce="erase-validate")[0] == 200

            def delete() -> None:
                body = {"key": mine.key, "scope": "this_machine", "fingerprint": gone["fingerprint"]}
                seen["status"] = str(_post(running.url, DELETE, body, nonce="erase-delete")[0]).encode()
                db = store.db_path(server_dir)
                seen["files"] = db.read_bytes() + Path(f"{db}-wal").read_bytes()

            _in_parallel([*(_validator(running.url, busy_claim, statuses, 10, f"busy-{n}") for n in range(6)),
                          delete])
        finally:
            kill_server(running)
    assert seen["status"] == b"200"
    assert label.encode() not in seen["files"]
    assert gone["fingerprint"].encode() not in seen["files"]
    assert statuses == [200] * 60
    assert _count(server_dir, "SELECT COUNT(*) FROM machines WHERE license_id = ?", mine.license_id) == 0
    assert _validated(server_dir, busy) == 60


def test_clients_that_hang_up_mid_group_break_nothing_for_the_others(server_dir: Path) -> None:
    """Clients that send a whole validation and reset the connection at once (mid-group, before their
    answer): the other clients' validations are all answered and stored, and the server keeps serving."""
    lic, quitter = issue(server_dir), issue(server_dir)
    claim, quits = _claim(lic.key), _claim(quitter.key)
    statuses: list[int] = []
    body = json.dumps(quits).encode()
    request = (f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nX-Crystal-Nonce: quitter-nonce\r\n\r\n").encode() + body
    with run_reference_server(server_dir) as server:
        assert _post(server.url, ACTIVATE, {**claim, "label": "Stays"}, nonce="stays-activate")[0] == 200
        assert _post(server.url, ACTIVATE, {**quits, "label": "Quits"}, nonce="quits-activate")[0] == 200

        def hang_up() -> None:
            for _ in range(15):
                with socket.create_connection(_address(server.url), timeout=10) as sock:
                    sock.sendall(request)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST

        _in_parallel([*(_validator(server.url, claim, statuses, 12, f"stay-{n}") for n in range(6)),
                      hang_up, hang_up])
        assert _post(server.url, VALIDATE, claim, nonce="stay-after")[0] == 200
    assert statuses == [200] * 72
    assert _validated(server_dir, lic) == 73


def test_a_client_sending_its_body_slowly_holds_no_one_else_up(server_dir: Path) -> None:
    """A client that sent its headers and half its body: forty validations of other clients are answered and
    stored meanwhile, while it still has no answer; once its body is whole it gets its signed answer."""
    lic = issue(server_dir)
    claim = _claim(lic.key)
    body = json.dumps(claim).encode()
    half = len(body) // 2
    with run_reference_server(server_dir) as server:
        assert _post(server.url, ACTIVATE, {**claim, "label": "Slow"}, nonce="slow-activate")[0] == 200
        with socket.create_connection(_address(server.url), timeout=10) as slow:
            slow.sendall((f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                          "X-Crystal-Nonce: slow-body-nonce\r\nConnection: close\r\n\r\n").encode() + body[:half])
            statuses: list[int] = []
            _in_parallel([_validator(server.url, claim, statuses, 10, f"quick-{n}") for n in range(4)])
            assert statuses == [200] * 40
            assert _validated(server_dir, lic) == 40
            slow.setblocking(False)
            with pytest.raises(BlockingIOError):
                slow.recv(1)  # still waiting for the rest of its body: no answer yet
            slow.setblocking(True)
            slow.sendall(body[half:])
            answer = b""
            while chunk := slow.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"x-crystal-signature" in answer.lower()
    assert _validated(server_dir, lic) == 41


# --- shutdown ------------------------------------------------------------------------------------------------

def test_sigterm_amid_a_group_and_a_half_sent_body_stops_the_server_and_loses_no_answered_write(
        server_dir: Path) -> None:
    """SIGTERM while validations are in flight and one client has sent only half its body: the server exits
    (the slow client is answered or cut off once the body deadline passes), and every validation it answered
    is in the database."""
    lic = issue(server_dir)
    claim = _claim(lic.key)
    statuses: list[int] = []
    deadline = 1.0  # the operator's body deadline (server.json), not the 10 s default: the test waits it out
    (server_dir / "server.json").write_text(json.dumps({"body_seconds": deadline}), encoding="utf-8")
    running = start_server(server_dir)
    try:
        assert _post(running.url, ACTIVATE, {**claim, "label": "Term"}, nonce="term-activate")[0] == 200
        slow = socket.create_connection(_address(running.url), timeout=10)
        slow.sendall(f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n{{".encode())
        halfway = threading.Event()

        def client(number: int) -> None:
            for count in range(30):
                try:
                    statuses.append(_post(running.url, VALIDATE, claim, nonce=f"term-{number}-{count:04d}")[0])
                except OSError:  # the server stopped listening: this one was never read
                    return
                if count == 5:
                    halfway.set()

        def terminate() -> None:
            halfway.wait(30)
            running.process.send_signal(signal.SIGTERM)

        _in_parallel([*(partial(client, n) for n in range(6)), terminate])
        code = running.process.wait(deadline + 10)
        cut_off = slow.recv(65536)
        slow.close()
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(10)
    assert code == -signal.SIGTERM  # uvicorn ends by raising the signal again, once it has shut down
    assert "licensing requests in" in (server_dir / "server.log").read_text()  # the lifespan's end: all done
    assert cut_off.startswith(b"HTTP/1.1 408") and b"x-crystal-signature" in cut_off.lower()
    assert statuses and set(statuses) == {200}
    assert _validated(server_dir, lic) >= len(statuses)


# --- the bare licensing route --------------------------------------------------------------------------------

def _framed(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: x", "X-Crystal-Nonce: framing-nonce-01", "Connection: close",
             *(f"{name}: {value}" for name, value in headers)]
    return "\r\n".join([*lines, "", ""]).encode() + body


def _chunked(body: bytes, size: int) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n" % len(piece) + piece + b"\r\n" for piece in pieces) + b"0\r\n\r\n"


def _split(raw: bytes) -> Answer:
    """A raw HTTP answer (after any 100 Continue) as (status, headers, body)."""
    while raw.startswith(b"HTTP/1.1 100"):
        raw = raw.split(b"\r\n\r\n", 1)[1]
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_odd_framings_of_a_licensing_request_are_answered_signed_or_refused_before_any_write(
        server_dir: Path) -> None:
    """The licensing POSTs skip Starlette: whatever the framing, a request that reaches a handler gets a
    signed answer over the path it named (chunked, 100-continue, a query string), and one that does not
    (duplicate or conflicting lengths, another method, a path variant) writes nothing."""
    lic = issue(server_dir)
    claim = _claim(lic.key)
    body = json.dumps(claim).encode()
    length = ("Content-Length", str(len(body)))
    reaches: dict[str, bytes] = {
        "chunked": _framed("POST", VALIDATE, [("Transfer-Encoding", "chunked")], _chunked(body, 7)),
        "100-continue": _framed("POST", VALIDATE, [length, ("Expect", "100-continue")], body),
        "query string": _framed("POST", VALIDATE + "?machine=other", [length], body),
        "chunked, over 64 KiB": _framed("POST", VALIDATE, [("Transfer-Encoding", "chunked")],
                                        _chunked(b" " * (80 * 1024), 4096)),
    }
    refused: dict[str, bytes] = {
        "two lengths": _framed("POST", VALIDATE, [length, ("Content-Length", "2")], body),
        "two equal lengths": _framed("POST", VALIDATE, [length, length], body),
        "length and chunked": _framed("POST", VALIDATE, [length, ("Transfer-Encoding", "chunked")],
                                      _chunked(body, 64)),
        **{method: _framed(method, VALIDATE, [length], body) for method in ("HEAD", "GET", "PUT", "OPTIONS")},
        "lower-case post": _framed("post", VALIDATE, [length], body),
        "trailing slash": _framed("POST", VALIDATE + "/", [length], body),
        "double slash": _framed("POST", "/" + VALIDATE, [length], body),
        "upper case": _framed("POST", VALIDATE.upper(), [length], body),
        "dot segment": _framed("POST", VALIDATE.replace("/licenses/", "/licenses/./"), [length], body),
    }
    with run_reference_server(server_dir) as server:
        assert _post(server.url, ACTIVATE, {**claim, "label": "Framed"}, nonce="framed-activate")[0] == 200
        statuses = {}
        for name, request in reaches.items():
            answer = _split(_exchange(server.url, request))
            statuses[name] = answer[0]
            assert _signed(server_dir, answer, method="POST", path=VALIDATE, nonce="framing-nonce-01"), name
        assert statuses == {"chunked": 200, "100-continue": 200, "query string": 200, "chunked, over 64 KiB": 413}
        before = _validated(server_dir, lic)
        for name, request in refused.items():
            status = _split(_exchange(server.url, request))[0]
            assert status in (307, 400, 404, 405), (name, status)
        assert _validated(server_dir, lic) == before == 3


def test_a_whole_body_too_large_is_answered_and_the_connection_closed_at_once(server_dir: Path) -> None:
    """A chunked body over 64 KiB that has arrived whole: the 413 leaves and the server hangs up, rather than
    waiting the body deadline for more of a body that has ended (it held such connections for 10 s)."""
    request = _framed("POST", VALIDATE, [("Transfer-Encoding", "chunked")], _chunked(b" " * (80 * 1024), 4096))
    with run_reference_server(server_dir) as server, \
            socket.create_connection(_address(server.url), timeout=BODY_SECONDS / 2) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):  # a timeout here (TimeoutError) is the hole
            answer += chunk
    assert _split(answer)[0] == 413


def _sent_until_hung_up(sock: socket.socket, filler: bytes, limit: int) -> int:
    """Send ``filler`` in 64 KiB pieces until the server hangs up (failing if it never does within ``limit``
    bytes); how many bytes went out before it did."""
    sent = 0
    with pytest.raises(OSError):  # EPIPE or ECONNRESET once the server has hung up
        while sent < limit:
            sock.sendall(filler * 65536)
            sent += 65536
    return sent


def test_after_a_413_the_server_stops_reading_the_rest_of_the_body(server_dir: Path) -> None:
    """A client announcing a gibibyte is answered 413 past 64 KiB; the server then reads at most 16 MiB more
    (so that a client sending a whole, too large body can read the answer) and hangs up, rather than reading
    and throwing away whatever the client keeps sending."""
    with run_reference_server(server_dir) as server, \
            socket.create_connection(_address(server.url), timeout=10) as sock:
        sock.sendall(f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Length: {1 << 30}\r\n\r\n".encode())
        assert _sent_until_hung_up(sock, b" ", 256 * 1024 * 1024) < 64 * 1024 * 1024


_TRAILER = "HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Endless: "


@pytest.mark.parametrize("head", [f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nX-Endless: ",
                                  f"POST {VALIDATE}?", "GET /v1/updates/metadata/",
                                  f"GET /v1/health {_TRAILER}", f"POST /v1/nowhere {_TRAILER}"],
                         ids=["header", "query", "path", "trailer after GET", "trailer on no route"])
def test_an_endless_request_line_or_header_is_cut_off(server_dir: Path, head: str) -> None:
    """A request line, header or trailer (after a chunked body) that never ends: the server hangs up once it
    passes a small bound, instead of keeping all of it in memory (one connection could grow the server by
    gigabytes)."""
    with run_reference_server(server_dir) as server, \
            socket.create_connection(_address(server.url), timeout=10) as sock:
        sock.sendall(head.encode())
        assert _sent_until_hung_up(sock, b"a", 64 * 1024 * 1024) < 32 * 1024 * 1024


def test_big_bodies_and_many_requests_on_one_connection_are_not_taken_for_a_long_head(server_dir: Path) -> None:
    """The head's bound counts only the head: five pipelined validations with 40 KiB bodies sent in one piece,
    and one with a 12 KiB header, on one connection, are all answered (signed 200)."""
    lic = issue(server_dir)
    claim = _claim(lic.key)
    body = (json.dumps(claim) + " " * 40_000).encode()

    def request(n: int, extra: str = "") -> bytes:
        return (f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}"
                f"X-Crystal-Nonce: pipelined-{n:04d}\r\n\r\n").encode() + body

    stream = b"".join(request(n) for n in range(5)) + request(5, f"X-Pad: {'p' * 12 * 1024}\r\nConnection: close\r\n")
    with run_reference_server(server_dir) as server:
        assert _post(server.url, ACTIVATE, {**claim, "label": "Piped"}, nonce="piped-activate")[0] == 200
        answers = _exchange(server.url, stream)
    assert answers.count(b"HTTP/1.1 200 OK") == 6
    assert answers.lower().count(b"x-crystal-signature") == 6
    assert _validated(server_dir, lic) == 6


# --- the memoised timestamp parser and durability -------------------------------------------------------------

def test_the_timestamp_memo_stays_small_whatever_dates_arrive() -> None:
    """Every distinct date a client sends would be remembered by an unbounded memo: 20,000 distinct valid
    dates leave at most the memo's fixed size, and each still parses to its own moment."""
    signing._parse_utc.cache_clear()
    start = datetime(2030, 1, 1, tzinfo=UTC)
    for step in range(20_000):
        text = signing.format_time(start + timedelta(seconds=61 * step))
        assert signing.parse_time(text).strftime("%Y-%m-%dT%H:%M:%SZ") == text
    info = signing._parse_utc.cache_info()
    assert info.maxsize is not None and info.currsize <= info.maxsize <= 4096


def test_group_commit_waits_for_the_disk_whatever_sqlite_was_built_with(tmp_path: Path) -> None:
    """The durability promise rests on synchronous=FULL: a connection that came with NORMAL (the WAL default
    of a SQLite built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1) is set to FULL by the group commit."""
    conn = store.connect(tmp_path)
    conn.execute("PRAGMA synchronous = NORMAL")  # what such a build gives a fresh connection in WAL mode
    GroupCommit(conn)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn.close()


@pytest.mark.parametrize(("setting", "seconds"), [
    ({"body_seconds": 2}, 2.0), ({"body_seconds": 0.5}, 0.5), ({}, BODY_SECONDS), (None, BODY_SECONDS),
    ({"body_seconds": 0}, BODY_SECONDS), ({"body_seconds": 1e9}, BODY_SECONDS), ({"body_seconds": True}, BODY_SECONDS),
    ({"body_seconds": "5"}, BODY_SECONDS), ({"body_seconds": float("nan")}, BODY_SECONDS), ([], BODY_SECONDS),
])
def test_the_body_deadline_is_the_operators_within_bounds_else_the_default(
        tmp_path: Path, setting: object, seconds: float) -> None:
    if setting is not None:
        (tmp_path / "server.json").write_text(json.dumps(setting), encoding="utf-8")
    assert load_body_seconds(tmp_path) == seconds
