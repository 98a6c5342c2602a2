"""Target downloads through the gateway from a real reference server process (and misbehaving sockets):
resume with Range + If-Range, pause, cancel, the signed length and hash enforced, nothing bad kept."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from crystal_manager.net.errors import ProtocolFailed
from crystal_manager.net.gateway import Gateway
from crystal_manager.privacy.ledger import Ledger
from crystal_manager.services.update_types import DownloadControl, DownloadProgress
from crystal_manager.updates.download import (
    SignedFile,
    discard,
    download_target,
    partial_state,
    verified_download,
)
from crystal_manager.updates.errors import DownloadStopped, TargetRejected, UpdateServerUnavailable
from tests.support.cli_run import run_module  # the crash child, forked (decision 0023)
from tests.support.misbehaving import misbehaving
from tests.support.plain_http import no_tls
from tests.support.servers import ReferenceServer

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
NAME = "crystalme3d-pro-1.2.0-linux-x86_64.tar.gz"


def publish(server: ReferenceServer, data: bytes, name: str = NAME) -> SignedFile:
    """Put ``data`` on the server under its consistent-snapshot name; return its signed facts."""
    digest = hashlib.sha256(data).hexdigest()
    (server.data_dir / "repository" / "targets" / f"{digest}.{name}").write_bytes(data)
    return SignedFile(name=name, url_name=f"{digest}.{name}", length=len(data), sha256=digest)


def server_file(server: ReferenceServer, signed: SignedFile) -> Path:
    return server.data_dir / "repository" / "targets" / signed.url_name


@pytest.fixture
def gateway(reference_server: ReferenceServer, tmp_path: Path) -> Iterator[Gateway]:
    with Gateway(base_url=reference_server.url, ledger=Ledger(tmp_path / "ledger.jsonl")) as gw:
        yield gw


def fake_clock(step: float = 0.05) -> Callable[[], float]:
    """Time that advances ``step`` seconds at each reading: progress fires at a known pace."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def pause_at_half(control: DownloadControl, total: int) -> tuple[list[DownloadProgress],
                                                                 Callable[[DownloadProgress], None]]:
    seen: list[DownloadProgress] = []

    def progress(p: DownloadProgress) -> None:
        seen.append(p)
        if p.received >= total // 2:
            control.pause()
    return seen, progress


def leftovers(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_download_verifies_and_names_the_file(reference_server: ReferenceServer, gateway: Gateway,
                                             tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 17)
    signed = publish(reference_server, data)
    seen: list[DownloadProgress] = []
    path = download_target(gateway, signed, tmp_path / "dl", version="1.2.0", progress=seen.append)
    assert path == tmp_path / "dl" / f"{signed.sha256}.{NAME}" and path.read_bytes() == data
    assert leftovers(tmp_path / "dl") == [path.name]
    assert seen[-1].received == seen[-1].total == len(data) and seen[-1].eta_seconds == 0.0
    [entry] = gateway.ledger.entries()
    assert entry["path"] == f"/v1/updates/targets/{signed.url_name}" and entry["status"] == 200
    assert entry["bytes_received"] == len(data) and "range" not in entry["headers"]
    assert verified_download(tmp_path / "dl", signed) == path
    assert download_target(gateway, signed, tmp_path / "dl", version="1.2.0") == path
    assert len(gateway.ledger.entries()) == 1  # already there: nothing fetched again


def test_pause_then_resume_with_range_and_if_range(reference_server: ReferenceServer, gateway: Gateway,
                                                   tmp_path: Path) -> None:
    data = os.urandom(8 * MIB)
    signed = publish(reference_server, data)
    folder = tmp_path / "dl"
    control = DownloadControl()
    seen, progress = pause_at_half(control, len(data))
    with pytest.raises(DownloadStopped) as caught:
        download_target(gateway, signed, folder, version="1.2.0", control=control, progress=progress,
                        clock=fake_clock())
    assert caught.value.cancelled is False
    state = partial_state(folder, signed)
    assert state is not None and len(data) // 2 <= state[0] < len(data) and state[1] == len(data)
    etag = json.loads((folder / f"{signed.url_name}.partial.json").read_text())["etag"]
    with httpx.stream("GET", f"{reference_server.url}/v1/updates/targets/{signed.url_name}",
                      verify=no_tls()) as direct:
        assert etag == direct.headers["etag"]
    assert gateway.ledger.entries()[-1]["error"] == "_Stop"  # the stopped request is recorded too
    path = download_target(gateway, signed, folder, version="1.2.0")
    assert path.read_bytes() == data
    last = gateway.ledger.entries()[-1]
    assert last["status"] == 206 and last["headers"]["range"] == f"bytes={state[0]}-"
    assert last["headers"]["if-range"] == etag and last["bytes_received"] == len(data) - state[0]
    assert leftovers(folder) == [path.name]
    assert all(b.received <= a.received for a, b in itertools.pairwise(reversed(seen)))


def test_cancel_deletes_the_partial(reference_server: ReferenceServer, gateway: Gateway, tmp_path: Path) -> None:
    signed = publish(reference_server, os.urandom(4 * MIB))
    control = DownloadControl()

    def progress(p: DownloadProgress) -> None:
        if p.received > MIB:
            control.cancel()
    with pytest.raises(DownloadStopped) as caught:
        download_target(gateway, signed, tmp_path / "dl", version="1.2.0", control=control, progress=progress,
                        clock=fake_clock())
    assert caught.value.cancelled is True
    assert leftovers(tmp_path / "dl") == [] and partial_state(tmp_path / "dl", signed) is None


def test_a_changed_file_starts_over(reference_server: ReferenceServer, gateway: Gateway, tmp_path: Path) -> None:
    data = os.urandom(4 * MIB)
    signed = publish(reference_server, data)
    folder = tmp_path / "dl"
    control = DownloadControl()
    _seen, progress = pause_at_half(control, len(data))
    with pytest.raises(DownloadStopped):
        download_target(gateway, signed, folder, version="1.2.0", control=control, progress=progress,
                        clock=fake_clock())
    sidecar = folder / f"{signed.url_name}.partial.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "etag": '"changed-since"'}))
    again: list[DownloadProgress] = []
    assert download_target(gateway, signed, folder, version="1.2.0", progress=again.append,
                           clock=fake_clock()).read_bytes() == data
    assert all(p.bytes_per_second >= 0 for p in again) and again[-1].received == len(data)
    last = gateway.ledger.entries()[-1]
    assert last["headers"]["if-range"] == '"changed-since"'
    assert last["status"] == 200 and last["bytes_received"] == len(data)


@pytest.mark.parametrize("damage", ["one byte changed", "truncated", "longer than signed", "wrong hash"])
def test_bad_files_are_rejected_and_nothing_stays(reference_server: ReferenceServer, gateway: Gateway,
                                                  tmp_path: Path, damage: str) -> None:
    data = os.urandom(2 * MIB)
    signed = publish(reference_server, data)
    target = server_file(reference_server, signed)
    if damage == "one byte changed":
        target.write_bytes(data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])
    elif damage == "truncated":
        target.write_bytes(data[: len(data) - 10])
    elif damage == "longer than signed":
        target.write_bytes(data + os.urandom(MIB))
    asked = signed if damage != "wrong hash" else SignedFile(signed.name, signed.url_name, signed.length, "0" * 64)
    with pytest.raises(TargetRejected) as caught:
        download_target(gateway, asked, tmp_path / "dl", version="1.2.0")
    assert "deleted" in str(caught.value) and "\n" not in str(caught.value)
    assert leftovers(tmp_path / "dl") == []
    target.write_bytes(data)  # restored on the server: the good file downloads
    assert download_target(gateway, signed, tmp_path / "dl", version="1.2.0").read_bytes() == data


def test_a_yanked_file_is_unavailable(gateway: Gateway, tmp_path: Path) -> None:
    signed = SignedFile(NAME, f"{'a' * 64}.{NAME}", 10, "a" * 64)
    with pytest.raises(UpdateServerUnavailable, match="no longer offers"):
        download_target(gateway, signed, tmp_path / "dl", version="1.2.0")
    assert gateway.ledger.entries()[-1]["status"] == 404
    assert leftovers(tmp_path / "dl") == []


@pytest.mark.parametrize("bad", [SignedFile("../evil", "x.evil", 1, "a" * 64),
                                 SignedFile(NAME, "../../server.sqlite3", 1, "a" * 64),
                                 SignedFile(NAME, f"a.{NAME}", 1, "not-hex"),
                                 SignedFile(NAME, f"a.{NAME}", -1, "a" * 64)])
def test_malformed_signed_facts_send_nothing(gateway: Gateway, tmp_path: Path, bad: SignedFile) -> None:
    with pytest.raises(TargetRejected):
        download_target(gateway, bad, tmp_path / "dl", version="1.2.0")
    assert gateway.ledger.entries() == []


def test_lost_connection_keeps_the_partial_and_resumes(reference_server: ReferenceServer, gateway: Gateway,
                                                      tmp_path: Path) -> None:
    data = os.urandom(2 * MIB)
    signed = publish(reference_server, data)
    with httpx.stream("GET", f"{reference_server.url}/v1/updates/targets/{signed.url_name}",
                      verify=no_tls()) as direct:
        etag = direct.headers["etag"]
    half = len(data) // 2

    def drop_midway(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\nETag: {etag}\r\n\r\n".encode())
        conn.sendall(data[:half])

    folder = tmp_path / "dl"
    with (misbehaving(drop_midway) as server,
          Gateway(base_url=server.url, ledger=Ledger(tmp_path / "ledger2.jsonl")) as flaky,
          pytest.raises(ProtocolFailed)):
        download_target(flaky, signed, folder, version="1.2.0")
    assert partial_state(folder, signed) == (half, len(data))
    assert download_target(gateway, signed, folder, version="1.2.0").read_bytes() == data
    last = gateway.ledger.entries()[-1]
    assert last["status"] == 206 and last["bytes_received"] == len(data) - half


def test_foreign_or_orphan_partials_are_discarded(reference_server: ReferenceServer, gateway: Gateway,
                                                  tmp_path: Path) -> None:
    data = os.urandom(MIB)
    signed = publish(reference_server, data)
    folder = tmp_path / "dl"
    folder.mkdir()
    partial = folder / f"{signed.url_name}.partial"
    partial.write_bytes(b"\0" * 1000)
    assert partial_state(folder, signed) is None and not partial.exists()  # no sidecar: unknown bytes
    partial.write_bytes(b"\0" * 1000)
    sidecar = folder / f"{signed.url_name}.partial.json"
    sidecar.write_text(json.dumps({"sha256": "b" * 64, "length": len(data), "etag": None, "name": NAME}))
    assert download_target(gateway, signed, folder, version="1.2.0").read_bytes() == data
    assert "range" not in gateway.ledger.entries()[-1]["headers"]
    discard(folder, signed)
    assert leftovers(folder) == []


def test_a_damaged_verified_file_is_not_trusted(reference_server: ReferenceServer, gateway: Gateway,
                                                tmp_path: Path) -> None:
    signed = publish(reference_server, os.urandom(MIB))
    path = download_target(gateway, signed, tmp_path / "dl", version="1.2.0")
    with open(path, "r+b") as handle:
        first = handle.read(1)[0]
        handle.seek(0)
        handle.write(bytes([first ^ 0xFF]))  # changed whatever it was (an "X" left 1 file in 256 intact)
    assert verified_download(tmp_path / "dl", signed, check_hash=False) == path
    assert verified_download(tmp_path / "dl", signed) is None and not path.exists()


def test_progress_is_throttled_and_smoothed(reference_server: ReferenceServer, gateway: Gateway,
                                            tmp_path: Path) -> None:
    signed = publish(reference_server, os.urandom(8 * MIB))
    ticks = itertools.count()
    seen: list[DownloadProgress] = []
    download_target(gateway, signed, tmp_path / "dl", version="1.2.0", progress=seen.append,
                    clock=lambda: next(ticks) * 0.01)  # 10 ms of fake time per write
    assert seen[0].received == 0 and seen[0].eta_seconds is None
    middle = seen[1:-1]
    assert middle and all(b.received > a.received for a, b in itertools.pairwise(middle))
    writes = next(ticks)
    assert len(seen) <= writes // 10 + 3  # at most one call per 0.1 s of (fake) time, plus first and last
    assert all(p.version == "1.2.0" and p.total == signed.length for p in seen)
    assert all(p.bytes_per_second > 0 and p.eta_seconds is not None for p in middle)


def test_killed_midway_resumes_with_at_most_one_mib_fetched_twice(reference_server: ReferenceServer,
                                                                  gateway: Gateway, tmp_path: Path) -> None:
    data = os.urandom(64 * MIB)
    signed = publish(reference_server, data)
    folder = tmp_path / "dl"
    spec = {"action": "download", "url": reference_server.url, "folder": str(folder), "version": "1.2.0",
            "ledger": str(tmp_path / "child-ledger.jsonl"), "report": str(tmp_path / "received"),
            "kill_after_bytes": len(data) // 2, "signed": signed.__dict__}
    child = run_module("tests.support.update_crash_child", [json.dumps(spec)], env=None, timeout=120, cwd=REPO)
    assert child.returncode == -9, child.stderr
    received_by_child = int((tmp_path / "received").read_text())
    state = partial_state(folder, signed)
    assert state is not None and state[0] > 0
    assert download_target(gateway, signed, folder, version="1.2.0").read_bytes() == data
    resumed = gateway.ledger.entries()[-1]
    assert resumed["status"] == 206
    fetched_twice = received_by_child + resumed["bytes_received"] - len(data)
    print(f"kept {state[0]} of {len(data)} bytes; fetched twice: {fetched_twice} bytes")
    assert fetched_twice <= MIB


def test_killed_while_saving_or_verifying_then_completes(reference_server: ReferenceServer, gateway: Gateway,
                                                         tmp_path: Path) -> None:
    data = os.urandom(MIB + 5)
    signed = publish(reference_server, data)
    base = {"action": "download", "url": reference_server.url, "version": "1.2.0",
            "ledger": str(tmp_path / "child-ledger.jsonl"), "signed": signed.__dict__}

    def child(spec: dict[str, object]) -> subprocess.CompletedProcess[str]:
        return run_module("tests.support.update_crash_child", [json.dumps(spec)], env=None, timeout=120, cwd=REPO)

    counted = child({**base, "folder": str(tmp_path / "count"), "counts": str(tmp_path / "counts.json")})
    assert counted.returncode == 0, counted.stderr
    counts = json.loads((tmp_path / "counts.json").read_text())["counts"]
    points = [(op, n, when) for op in ("fsync", "replace") for n in range(1, counts.get(op, 0) + 1)
              for when in ("before", "after")]
    assert len(points) >= 8
    for index, (op, n, when) in enumerate(points):
        folder = tmp_path / f"dl{index}"
        killed = child({**base, "folder": str(folder), "op": op, "n": n, "when": when})
        assert killed.returncode == -9, (op, n, when, killed.stderr)
        before = len(gateway.ledger.entries())
        path = download_target(gateway, signed, folder, version="1.2.0")
        assert path.read_bytes() == data and leftovers(folder) == [path.name], (op, n, when)
        for entry in gateway.ledger.entries()[before:]:  # resumed, or fetched once more in full
            assert entry["status"] in (200, 206)
