"""Attacks on release files and releases, end to end: the real UpdateService reaches the real reference
server only through an attacker on loopback (tests/support/update_attack.py); unsafe archives are signed
straight into the repository (the attacker holds the online targets key: only the client's own archive
checks stand); entitlement comes from a real license activated through the real LicenseService.

Every attack must be refused with one plain line, leave every file under the install root as it was, and
leave nothing behind: once the server is restored, the good release checks, downloads and installs.
"""

from __future__ import annotations

import json
import os
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crystal_manager.net.errors import ProtocolFailed, TimedOut
from crystal_manager.services.update_service import UpdateService
from crystal_manager.services.update_types import DownloadControl
from crystal_manager.services.usertext import Outcome
from crystal_manager.updates.download import SignedFile, download_target, partial_state
from crystal_manager.updates.errors import (
    ArchiveRejected,
    DownloadStopped,
    NotEntitled,
    NoUpdateOffered,
    TargetRejected,
)
from crystal_protocol.releases import PRODUCT, current_platform
from crystal_server.demo_release import build_demo_archive
from crystal_server.tuf_repo import TufRepository
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import issue, service
from tests.support.product_archives import file_member, product_members, special_member, write_archive
from tests.support.update_attack import (
    Scene,
    SceneTemplate,
    answer,
    assert_refused,
    publish,
    scene_from,
    scene_template,
    sign_release,
)

PAYLOAD = 2 * 1024 * 1024  # big enough to arrive in many pieces (pause, resume)


def _prepare(prepared: Scene) -> None:
    publish(prepared.data_dir, "1.0.0")
    prepared.install("1.0.0")


@pytest.fixture(scope="session")
def sc_template(tmp_path_factory: pytest.TempPathFactory, server_template: Path) -> SceneTemplate:
    """The state every test starts from, made once per run through the real service (session scope: the
    module's tests may spread over the xdist workers, who share it; tests/support/run_once.py)."""
    return scene_template(tmp_path_factory, "attack-targets", server_template, _prepare)


@pytest.fixture
def sc(app_home: Path, tmp_path: Path, sc_template: SceneTemplate) -> Iterator[Scene]:
    """1.0.0 installed through the attacker (nothing attacked yet). Each test has its own copy of both
    folders, its own server process and attacker."""
    with scene_from(sc_template, app_home, tmp_path / "server") as attacked:
        yield attacked


def server_file(sc: Scene, target: str) -> Path:
    [path] = (sc.data_dir / "repository" / "targets").glob(f"*.{target}")
    return path


def refused(sc: Scene, action: object, error: type[Exception], outcome: Outcome, *words: str) -> str:
    """``action()`` is refused in plain words; the install root is unchanged and no download is kept."""
    tree = sc.tree()
    with pytest.raises(error) as caught:
        action()  # type: ignore[operator]
    text = assert_refused(caught.value, outcome, *words)
    assert sc.tree() == tree
    assert sc.service().status().installed_version == "1.0.0"
    return text


def nothing_kept(sc: Scene, version: str = "1.1.0") -> None:
    """No file of ``version`` (partial, sidecar or complete) stays in the downloads folder."""
    assert not [name for name in sc.downloaded() if f"-{version}-" in name], sc.downloaded()
    assert sc.service().status().pending is None


def recovers(sc: Scene, version: str = "1.1.0") -> None:
    """The server is restored: the good release is offered, downloaded, verified and installed."""
    sc.proxy.restore()
    sc.install(version)
    assert all(f"-{version}-" in name for name in sc.downloaded())  # nothing else kept


@pytest.mark.parametrize("damage", ["one byte changed", "truncated", "wrong hash"])
def test_tampered_release_file(sc: Scene, damage: str, tmp_path: Path) -> None:
    """The release file is changed on the way: one byte flipped; cut short (a complete, shorter answer); or a
    whole other valid archive of 1.1.0 of exactly the signed length (only the hash tells them apart)."""
    target = publish(sc.data_dir, "1.1.0", suffix=".tar", payload_bytes=64 * 1024)
    good = server_file(sc, target).read_bytes()
    if damage == "one byte changed":
        bad = good[:5000] + bytes([good[5000] ^ 0x01]) + good[5001:]
    elif damage == "truncated":
        bad = good[:-700]
    else:
        bad = build_demo_archive("1.1.0", tmp_path / "other.tar", payload_bytes=64 * 1024).read_bytes()
        assert len(bad) == len(good) and bad != good
    sc.proxy.on_target(answer(bad, headers={"ETag": '"attacker"'}))
    words = "shorter than its signed length" if damage == "truncated" else "does not match its signed hash"
    refused(sc, sc.service().download, TargetRejected, Outcome.OFFLINE, "failed its signature check", words,
            "deleted", "nothing was installed or changed")
    nothing_kept(sc)
    recovers(sc)


def test_endless_release_file(sc: Scene) -> None:
    """A server that sends the release for ever: the client stops one piece past the signed length."""
    publish(sc.data_dir, "1.1.0")
    sc.proxy.on_target(sc.proxy.endless())
    refused(sc, sc.service().download, TargetRejected, Outcome.OFFLINE, "more than the signed", "deleted")
    assert sc.proxy.endless_sent < 64 * 1024 * 1024
    nothing_kept(sc)
    recovers(sc)


def test_a_poisoned_etag_does_not_break_resuming(sc: Scene) -> None:
    """The connection drops mid-file after an ETag that is not plain ASCII (a man in the middle, a broken
    CDN). That tag must not be kept and sent back in If-Range (it used to crash every later download); the
    next run resumes and verifies."""
    target = publish(sc.data_dir, "1.1.0", payload_bytes=256 * 1024)
    good = server_file(sc, target).read_bytes()

    def drop_midway(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(good)}\r\nConnection: close\r\n".encode()
                     + b'ETag: "\xe9t\xe9"\r\n\r\n' + good[:100_000])

    sc.proxy.on_target(drop_midway)
    svc = sc.service()
    svc.check()
    refused(sc, svc.download, ProtocolFailed, Outcome.OFFLINE, "broke the connection")
    pending = svc.status().pending
    assert pending is not None and pending.received == 100_000  # kept for resuming
    sc.proxy.restore()
    assert svc.download().complete
    _path, headers = sc.proxy.targets_asked()[-1]
    assert {k.lower(): v for k, v in headers.items()}.get("range") == "bytes=100000-"
    assert "if-range" not in {k.lower() for k in headers}  # no usable tag: the signed hash decides
    assert svc.install().version == "1.1.0"


def test_slow_retrieval_is_cut_off_and_resumed_later(sc: Scene) -> None:
    """A server that trickles the release a few bytes at a time never trips the read timeout; the download
    gives up once its average speed stays under the floor for a whole window (a second here, a minute in the
    app), keeps what arrived, and the next run resumes it."""
    target = publish(sc.data_dir, "1.1.0", payload_bytes=64 * 1024)
    good = server_file(sc, target).read_bytes()
    facts = TufRepository(sc.data_dir).load_targets().signed.targets[target]
    sha = facts.hashes["sha256"]
    signed = SignedFile(name=target, url_name=f"{sha}.{target}", length=facts.length, sha256=sha)
    sc.proxy.on_target(sc.proxy.trickle(good))
    tree = sc.tree()
    started = time.monotonic()
    with pytest.raises(TimedOut) as caught:
        download_target(sc.ctx.gateway, signed, sc.downloads, version="1.1.0", min_speed=(4096, 1.0))
    assert time.monotonic() - started < 5
    assert_refused(caught.value, Outcome.OFFLINE, "under 4096 bytes a second", "kept")
    assert sc.tree() == tree
    kept = partial_state(sc.downloads, signed)
    assert kept is not None and 0 < kept[0] < len(good)
    sc.proxy.restore()
    svc = sc.service()
    svc.check()
    assert svc.download().complete
    _path, headers = sc.proxy.targets_asked()[-1]
    assert {k.lower(): v for k, v in headers.items()}.get("range") == f"bytes={kept[0]}-"  # resumed
    assert svc.install().version == "1.1.0"


@pytest.mark.parametrize("reply", ["another file", "the same file in full", "another part"])
def test_resume_answered_with_something_else(sc: Scene, reply: str) -> None:
    """A paused download resumes with Range + If-Range; the server answers 200 with a different file (starts
    over, then fails verification), 200 with the right file in full (starts over, verifies, installs), or
    206 with a part that starts elsewhere (refused)."""
    target = publish(sc.data_dir, "1.1.0", payload_bytes=PAYLOAD)
    good = server_file(sc, target).read_bytes()
    svc = sc.service()
    control = DownloadControl()
    control.pause()  # stops after the first piece
    with pytest.raises(DownloadStopped):
        svc.download(control=control)
    pending = svc.status().pending
    assert pending is not None and 0 < pending.received < pending.total
    if reply == "another file":
        sc.proxy.on_target(answer(os.urandom(len(good)), headers={"ETag": '"another"'}))
    elif reply == "the same file in full":
        sc.proxy.on_target(answer(good, headers={"ETag": '"renamed-on-the-server"'}))
    else:
        start = pending.received + 1
        sc.proxy.on_target(answer(good[start:], "206 Partial Content",
                                  {"Content-Range": f"bytes {start}-{len(good) - 1}/{len(good)}"}))
    if reply == "the same file in full":
        assert svc.download().complete
    else:
        words = "does not match its signed hash" if reply == "another file" else "another part"
        refused(sc, svc.download, TargetRejected, Outcome.OFFLINE, words, "nothing was installed or changed")
        nothing_kept(sc)
    _path, headers = sc.proxy.targets_asked()[-1]
    assert {k.lower(): v for k, v in headers.items()}.get("range") == f"bytes={pending.received}-"
    assert "if-range" in {k.lower() for k in headers}
    recovers(sc)


def _evil(kind: str, tmp_path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    members = product_members("1.1.0")
    if kind == "..":
        members.append(file_member("share/../../escape.txt", b"out"))
    elif kind == "absolute path":
        members.append(file_member(str(tmp_path / "escape.txt"), b"out"))
    elif kind == "link out":
        members += [special_member("share/out", tarfile.SYMTYPE, "../../../../.."),
                    file_member("share/out/escape.txt", b"out")]
    elif kind == "link chain out":
        # Each link looks inside on its own ("d/up" -> ".." is the product folder; "x" -> "d/up/.." reads as
        # "d"), but on disk x is the folder above the product.
        members += [special_member("d", tarfile.DIRTYPE), special_member("d/up", tarfile.SYMTYPE, ".."),
                    special_member("x", tarfile.SYMTYPE, "d/up/.."), file_member("x/escape.txt", b"out")]
    elif kind == "hard link out":
        members.append(special_member("share/passwd", tarfile.LNKTYPE, "/etc/passwd"))
    elif kind == "absolute link":
        members[2] = special_member("bin/crystalme3d", tarfile.SYMTYPE, "/bin/sh")
    elif kind == "health check outside":
        manifest = {"product": PRODUCT, "version": "1.1.0", "platform": current_platform(),
                    "health_check": ["/bin/sh", "-c", f"touch {tmp_path / 'escape.txt'}"]}
        members[0] = file_member("product.json", json.dumps(manifest).encode())
    return members


@pytest.mark.parametrize("kind", ["..", "absolute path", "link out", "link chain out", "hard link out",
                                  "absolute link", "health check outside"])
def test_unsafe_archive_signed_with_the_targets_key(sc: Scene, kind: str, tmp_path: Path) -> None:
    """``release publish`` refuses these archives, so the attacker signs one in with the online targets key:
    the client downloads and verifies it (the signature is good), then its own archive checks refuse it."""
    archive = write_archive(tmp_path / "evil.tar.gz", _evil(kind, tmp_path))
    sign_release(sc.data_dir, archive, "1.1.0")
    svc = sc.service()
    assert svc.check().offer is not None and svc.download().complete
    refused(sc, svc.install, ArchiveRejected, Outcome.OFFLINE, "unsafe or wrong and was not installed",
            "nothing was installed or changed")
    assert not list(tmp_path.rglob("escape.txt"))  # nothing landed outside (nor inside) the product folder
    # The refused file is deleted and forgotten: install has nothing left to try again.
    assert svc.status().pending is None
    nothing_kept(sc)
    publish(sc.data_dir, "1.2.0")  # the server is fixed with a newer good release
    recovers(sc, "1.2.0")


def test_a_crafted_pending_older_release_is_not_installed(sc: Scene) -> None:
    """A hand-edited state file naming an older signed release as the pending download: install refuses the
    downgrade (rollback is the only way back) and forgets it."""
    old_target = publish(sc.data_dir, "1.1.0")
    publish(sc.data_dir, "1.2.0")
    sc.install("1.2.0")
    svc = sc.service()
    sc.force_pending(old_target, "1.1.0")
    tree = sc.tree()
    with pytest.raises(NoUpdateOffered) as caught:
        svc.install()
    assert_refused(caught.value, Outcome.BAD_INPUT, "not newer than the installed 1.2.0")
    assert sc.tree() == tree
    assert svc.status().installed_version == "1.2.0" and svc.status().pending is None
    nothing_kept(sc)


def test_older_release_offered_as_new(sc: Scene) -> None:
    """1.2.0 is installed; 1.1.0 is then published dated later (and marked critical): never offered."""
    publish(sc.data_dir, "1.2.0")
    sc.install("1.2.0")
    publish(sc.data_dir, "1.1.0", released_at="2031-01-01T00:00:00Z", critical=True)
    svc = sc.service()
    for channel in ("stable", "beta"):
        svc.set_channel(channel)
        result = svc.check()
        assert result.offer is None and result.newest is None and result.reason == "up_to_date", result
    tree = sc.tree()
    with pytest.raises(NoUpdateOffered) as caught:
        svc.download()
    assert_refused(caught.value, Outcome.BAD_INPUT, "up to date")
    assert sc.tree() == tree and svc.status().installed_version == "1.2.0"
    assert not [p for p, _h in sc.proxy.targets_asked() if "-1.1.0-" in p]
    publish(sc.data_dir, "1.3.0")
    sc.install("1.3.0", svc)


@pytest.mark.parametrize("other", ["product", "platform"])
def test_release_for_another_product_or_platform(sc: Scene, other: str) -> None:
    """Signed and published, but for another product or platform: never offered; forced through a crafted
    state file, the installer's own manifest check still refuses it."""
    options = {"product": "other-app"} if other == "product" else {"platform": "plan9-mips"}
    target = publish(sc.data_dir, "5.0.0", **options)
    svc = sc.service()
    result = svc.check()
    assert result.offer is None and result.newest is None, result
    refused(sc, svc.download, NoUpdateOffered, Outcome.BAD_INPUT, "up to date")
    sc.force_pending(target, "5.0.0")
    words = "other-app" if other == "product" else "plan9-mips"
    refused(sc, svc.install, ArchiveRejected, Outcome.OFFLINE, "not installed", words,
            PRODUCT if other == "product" else current_platform())
    publish(sc.data_dir, "1.1.0")
    recovers(sc)


def test_release_the_license_does_not_allow(sc: Scene, memory_keyring: MemoryKeyring) -> None:
    """A license limited to 1.1 (issued by the server, activated through the real LicenseService): 2.0.0 is
    never offered, its download is refused, and a crafted state that names it is refused at install, now and
    at the next start."""
    licensing = service(sc.ctx)
    assert licensing.activate(issue(sc.data_dir, max_version="1.1").key).max_version == "1.1"
    svc = UpdateService(sc.ctx, license_status=licensing.status)
    target = publish(sc.data_dir, "2.0.0")
    result = svc.check()
    assert result.offer is None and result.reason == "not_entitled" and result.entitlement.code == "max_version"
    words = ("not included in your license", "covers versions up to 1.1")
    refused(sc, svc.download, NotEntitled, Outcome.DENIED, *words)
    assert not [p for p, _h in sc.proxy.targets_asked() if "-2.0.0-" in p]
    sc.force_pending(target, "2.0.0")
    refused(sc, svc.install, NotEntitled, Outcome.DENIED, *words)
    assert svc.install(at_next_start=True).takes_effect == "next_manager_start"
    refused(sc, UpdateService(sc.ctx, license_status=licensing.status).apply_pending, NotEntitled, Outcome.DENIED,
            *words)
    publish(sc.data_dir, "1.1.5")
    sc.proxy.restore()
    sc.install("1.1.5", svc)
