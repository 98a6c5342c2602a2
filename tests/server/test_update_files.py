"""Update files served by the running server: Range, If-Range, ETag, Cache-Control, and the timestamp
re-signed while it runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.server.tuf_support import demo_archive, init, ok, publish
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
    with run_reference_server(server) as running, httpx.Client(base_url=running.url) as http:
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
    with run_reference_server(server) as running, httpx.Client(base_url=running.url) as http:
        assert http.head(f"/v1/updates/targets/{name}").headers["etag"] == etag


def test_metadata_cache_control_and_etags(tmp_path: Path) -> None:
    server, _name, _data = published(tmp_path)
    meta = server / "repository" / "metadata"
    with run_reference_server(server) as running, httpx.Client(base_url=running.url) as http:
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


@pytest.mark.slow
def test_the_server_resigns_the_timestamp_before_it_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = init(tmp_path / "s")
    ok("tuf", "refresh", str(server), "--expires-in", "4")
    # Lifetime 4 s: re-signed once less than 2 s are left; checked every 0.3 s.
    monkeypatch.setenv("CRYSTAL_SERVER_TIMESTAMP_EXPIRY", "4")
    monkeypatch.setenv("CRYSTAL_SERVER_TIMESTAMP_REFRESH_SECONDS", "0.3")
    with run_reference_server(server) as running, httpx.Client(base_url=running.url) as http:
        def version() -> int:
            return int(http.get("/v1/updates/metadata/timestamp.json").json()["signed"]["version"])

        first = version()
        assert first == 2
        deadline = time.monotonic() + 20
        seen = {first}
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
            seen.add(version())
        assert len(seen) >= 3, f"timestamp versions seen: {sorted(seen)}"
        stamp = http.get("/v1/updates/metadata/timestamp.json").json()["signed"]
        from datetime import UTC, datetime

        left = (datetime.fromisoformat(stamp["expires"].replace("Z", "+00:00")) - datetime.now(UTC)).total_seconds()
        assert 0 < left <= 4.5
    assert "re-signed timestamp" in (server / "server.log").read_text()


def test_the_refresher_is_off_with_an_interval_of_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = init(tmp_path / "s")
    ok("tuf", "refresh", str(server), "--expires-in", "2")  # due at once for a refresher that runs
    monkeypatch.setenv("CRYSTAL_SERVER_TIMESTAMP_REFRESH_SECONDS", "0")
    with run_reference_server(server) as running, httpx.Client(base_url=running.url) as http:
        time.sleep(1.5)
        assert http.get("/v1/updates/metadata/timestamp.json").json()["signed"]["version"] == 2
