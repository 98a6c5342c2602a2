"""Update files served by the running server: Range, If-Range, ETag, Cache-Control, and the timestamp
re-signed while it runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.tuf_support import demo_archive, init, ok, publish
from tests.support.faketime import MovableClock
from tests.support.plain_http import no_tls
from tests.support.servers import run_reference_server

IMMUTABLE = "public, max-age=31536000, immutable"


def published(tmp_path: Path) -> tuple[Path, str, bytes]:
    server = init(tmp_path / "s")
    archive = demo_archive(tmp_path / "a.tar", "1.2.0", "--payload-bytes", "300000")
    assert publish(server, archive, "1.2.0").returncode == 0
    [release] = json.loads(ok("release", "list", str(server), "--json"))
    return server, f"{release['sha256']}.{release['target']}", archive.read_bytes()


def test_targets_answer_ranges_if_range_and_etag(tmp_path: Path) -> None:
    server, name, data = published(tmp_path)
    size = len(data)
    with run_reference_server(server) as running, httpx.Client(base_url=running.url, verify=no_tls()) as http:
        url = f"/v1/updates/targets/{name}"
        full = http.get(url)
        assert full.status_code == 200 and full.content == data
        assert full.headers["cache-control"] == IMMUTABLE and full.headers["accept-ranges"] == "bytes"
        etag = full.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")  # strong: usable for If-Range
        part = http.get(url, headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{size}"
        tail = http.get(url, headers={"Range": f"bytes={size - 10}-", "If-Range": etag})
        assert tail.status_code == 206 and tail.content == data[-10:]
        changed = http.get(url, headers={"Range": "bytes=1000-", "If-Range": '"not-the-etag"'})
        assert changed.status_code == 200 and changed.content == data  # the file changed: start again
        beyond = http.get(url, headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
        head = http.head(url)
        assert head.status_code == 200 and int(head.headers["content-length"]) == size
        assert http.get("/v1/updates/targets/nothing.tar.gz").status_code == 404
        assert http.get("/v1/updates/targets/..secret").status_code == 400
    # The same file after a restart keeps its ETag (a client resumes across server restarts).
    with run_reference_server(server) as running, httpx.Client(base_url=running.url, verify=no_tls()) as http:
        assert http.head(f"/v1/updates/targets/{name}").headers["etag"] == etag


def test_metadata_cache_control_and_etags(tmp_path: Path) -> None:
    server, _name, _data = published(tmp_path)
    meta = server / "repository" / "metadata"
    with run_reference_server(server) as running, httpx.Client(base_url=running.url, verify=no_tls()) as http:
        for name in ("1.root.json", "2.snapshot.json", "2.targets.json"):
            answer = http.get(f"/v1/updates/metadata/{name}")
            assert answer.status_code == 200 and answer.content == (meta / name).read_bytes()
            assert answer.headers["cache-control"] == IMMUTABLE
        stamp = http.get("/v1/updates/metadata/timestamp.json")
        assert stamp.headers["cache-control"] == "no-cache" and stamp.content == (meta / "timestamp.json").read_bytes()
        etag = stamp.headers["etag"]
        assert http.get("/v1/updates/metadata/timestamp.json", headers={"If-None-Match": etag}).status_code == 304
        ok("tuf", "refresh", str(server))
        fresh = http.get("/v1/updates/metadata/timestamp.json", headers={"If-None-Match": etag})
        assert fresh.status_code == 200 and fresh.headers["etag"] != etag
        assert http.get("/v1/updates/metadata/9.root.json").status_code == 404


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll the server's visible effect (what it serves) until it shows."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _expires(stamp: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(stamp["signed"]["expires"]).replace("Z", "+00:00"))


def test_the_server_resigns_the_timestamp_before_it_expires(tmp_path: Path) -> None:
    """The server's own clock (libfaketime, set from a file) is moved past half the timestamp's lifetime of a
    day, twice: each time the running server re-signs it, valid for a day from its new time."""
    server = init(tmp_path / "s")
    ok("tuf", "refresh", str(server))  # version 2, valid for a day
    clock = MovableClock.create(tmp_path)
    # The refresher checks every 0.05 s (of the real monotonic clock, which libfaketime leaves alone).
    env = {"CRYSTAL_SERVER_TIMESTAMP_REFRESH_SECONDS": "0.05", "CRYSTAL_SERVER_TIMESTAMP_EXPIRY": "86400"}
    with run_reference_server(server, env={**env, **clock.env()}) as running, \
            httpx.Client(base_url=running.url, verify=no_tls()) as http:
        def stamp() -> dict[str, Any]:
            found: dict[str, Any] = http.get("/v1/updates/metadata/timestamp.json").json()
            return found

        first = stamp()
        assert first["signed"]["version"] == 2
        for version, hours in ((3, 13), (4, 26)):  # 13 h: 11 h left of 24; 26 h: version 3 has 11 h left
            clock.move(timedelta(hours=hours))
            _wait_for(lambda: int(stamp()["signed"]["version"]) >= version)
            now = datetime.now(UTC) + timedelta(hours=hours)  # the server's time
            current = stamp()
            assert current["signed"]["version"] == version
            assert abs((_expires(current) - now - timedelta(days=1)).total_seconds()) < 60
    assert (server / "server.log").read_text().count("re-signed timestamp") == 2


def test_the_refresher_is_off_with_an_interval_of_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A timestamp due for re-signing: a refresher that runs (whatever its interval) re-signs it before the
    server listens; with an interval of 0 there is none, and the server serves the timestamp as it is."""
    server = init(tmp_path / "s")
    ok("tuf", "refresh", str(server), "--expires-in", "2")  # due at once for a refresher that runs
    for interval, version in (("0", 2), ("300", 3)):  # 300: the same server, refresher on, re-signs it
        monkeypatch.setenv("CRYSTAL_SERVER_TIMESTAMP_REFRESH_SECONDS", interval)
        with run_reference_server(server) as running, httpx.Client(base_url=running.url, verify=no_tls()) as http:
            answer = http.get("/v1/updates/metadata/timestamp.json").json()
            assert answer["signed"]["version"] == version, interval
    assert (server / "server.log").read_text().count("re-signed timestamp") == 1
