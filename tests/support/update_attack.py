"""Tools for the update attack suite: a real attacker on loopback in front of the real reference server,
metadata forged with python-tuf's Metadata API (with the server's keys, stolen ones or a stranger's), releases
signed straight into the repository (as an attacker holding the online targets key would), and the checks
every refused attack must pass (one plain line of words, the install root unchanged).

The proxy is a raw-socket server (tests/support/misbehaving.py): each request is answered by the first rule
whose test matches its path, else relayed to the reference server unchanged (Range and If-Range included).
Clearing the rules is "the server is restored".
"""

from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets

from crystal_manager.services.context import AppContext
from crystal_manager.services.status import LicenseStatus
from crystal_manager.services.update_service import UpdateService
from crystal_manager.services.usertext import Outcome, explain
from crystal_protocol.releases import PRODUCT, ReleaseInfo, current_platform, target_name
from crystal_server.releases import publish as server_publish
from crystal_server.tuf_repo import TufRepository, load_signer, metadata_bytes
from tests.support.licensing import context
from tests.support.misbehaving import Behaviour, MisbehavingServer
from tests.support.product_archives import tree_snapshot
from tests.support.run_once import once_per_run
from tests.support.server_template import copy_server_dir
from tests.support.servers import ReferenceServer, environ, run_reference_server

ACTIVE = LicenseStatus(state="active")

__all__ = [
    "ACTIVE",
    "AttackProxy",
    "Forged",
    "Scene",
    "SceneTemplate",
    "answer",
    "assert_refused",
    "attack_proxy",
    "forge",
    "forged_root",
    "publish",
    "resign_past",
    "retired_signer",
    "role_version",
    "scene",
    "scene_from",
    "scene_template",
    "served",
    "sign_release",
    "stranger",
    "tree_snapshot",
]

_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
_IDENTIFIER = re.compile(r"\b[a-z]+_[a-z_]+\b|Error\b|Traceback|\bNone\b")  # a quoted field name may stay
_HEX_RUN = re.compile(r"[0-9a-f]{16,}")  # a hash or a random folder name says nothing to people


# -- the attacker in the middle --------------------------------------------------------------------------------

def _path(request: bytes) -> str:
    line = request.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return parts[1] if len(parts) >= 2 else ""


def _headers(request: bytes) -> dict[str, str]:
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in head) if k}


def answer(body: bytes, status: str = "200 OK", headers: dict[str, str] | None = None) -> Behaviour:
    """Answer with ``body`` (and ``headers``), whatever was asked."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())

    def behave(conn: socket.socket, _request: bytes) -> None:
        conn.sendall((f"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                      f"{len(body)}\r\nConnection: close\r\n{extra}\r\n").encode() + body)
    return behave


@dataclass
class AttackProxy:
    """A man in the middle: ``rules`` first (test on the request path → behaviour), else the real server."""

    upstream: str
    rules: list[tuple[Callable[[str], bool], Behaviour]] = field(default_factory=list)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: bytes written by ``endless`` behaviours (to show the client stopped reading early)
    endless_sent: int = 0

    def __post_init__(self) -> None:
        self._server = MisbehavingServer(self._dispatch)

    @property
    def url(self) -> str:
        return self._server.url

    def _dispatch(self, conn: socket.socket, request: bytes) -> None:
        path = _path(request)
        self.seen.append((path, _headers(request)))
        for test, behaviour in list(self.rules):
            if test(path):
                behaviour(conn, request)
                return
        self._relay(conn, request)

    def _relay(self, conn: socket.socket, request: bytes) -> None:
        host, _, port = self.upstream.removeprefix("http://").partition(":")
        upstream = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            sent = {k: v for k, v in _headers(request).items() if k.lower() not in ("host", "connection")}
            method = request.split(b" ", 1)[0].decode("ascii")
            upstream.request(method, _path(request), body=request.split(b"\r\n\r\n", 1)[1] or None, headers=sent)
            response = upstream.getresponse()
            body = response.read()
            kept = "".join(f"{k}: {v}\r\n" for k, v in response.getheaders()
                           if k.lower() not in ("content-length", "connection", "transfer-encoding"))
            conn.sendall((f"HTTP/1.1 {response.status} {response.reason}\r\n{kept}Content-Length: {len(body)}\r\n"
                          "Connection: close\r\n\r\n").encode() + body)
        finally:
            upstream.close()

    def on(self, name: str, behaviour: Behaviour) -> None:
        """Answer requests for the metadata or target file ``name`` (the last path segment) with ``behaviour``."""
        self.rules.append((lambda path: path.rsplit("/", 1)[-1] == name, behaviour))

    def on_target(self, behaviour: Behaviour, *, suffix: str = "") -> None:
        """Answer every target download (whose name ends with ``suffix``) with ``behaviour``."""
        self.rules.append((lambda path: "/updates/targets/" in path and path.endswith(suffix), behaviour))

    def serve(self, files: dict[str, bytes]) -> None:
        """Serve these metadata files (name → bytes) instead of the server's."""
        for name, body in files.items():
            self.on(name, answer(body, headers={"Content-Type": "application/json"}))

    def restore(self) -> None:
        """The attack is over: everything comes from the real server again."""
        self.rules.clear()

    def targets_asked(self) -> list[tuple[str, dict[str, str]]]:
        """Every target request that reached the proxy (path, headers)."""
        return [(p, h) for p, h in self.seen if "/updates/targets/" in p]

    def endless(self, content_type: str = "application/octet-stream", *, seconds: float = 20.0) -> Behaviour:
        """Headers without a length, then data for ever (until the client hangs up or ``seconds`` pass)."""
        def behave(conn: socket.socket, _request: bytes) -> None:
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n".encode())
            block = b" " * 65536 if content_type == "application/json" else bytes(range(256)) * 256
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                conn.sendall(block)  # OSError once the client has gone: the dispatcher closes the socket
                self.endless_sent += len(block)
        return behave

    def trickle(self, body: bytes, *, piece: int = 10, every: float = 0.05) -> Behaviour:
        """``body`` (with its true length) a few bytes at a time: never silent long enough for a read timeout."""
        def behave(conn: socket.socket, _request: bytes) -> None:
            conn.sendall((f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                          f"{len(body)}\r\nConnection: close\r\n\r\n").encode())
            for start in range(0, len(body), piece):
                conn.sendall(body[start:start + piece])  # OSError once the client has gone
                time.sleep(every)
        return behave


@contextmanager
def attack_proxy(upstream: str) -> Iterator[AttackProxy]:
    """An attacker in front of ``upstream`` for the block."""
    proxy = AttackProxy(upstream)
    proxy._server.start()
    try:
        yield proxy
    finally:
        proxy._server.stop()


# -- releases and metadata ---------------------------------------------------------------------------------------

def publish(server_dir: Path, version: str, **options: Any) -> str:
    """Publish the stand-in product's ``version`` with the server's own code (``release publish``, in process:
    the same checks, files and signatures, without a child Python). Returns the target name."""
    from crystal_server.demo_release import build_demo_archive

    folder = server_dir.parent / "archives"
    folder.mkdir(exist_ok=True)
    platform = options.pop("platform", None) or current_platform()
    product = options.pop("product", PRODUCT)
    suffix = options.pop("suffix", ".tar.gz")
    archive = build_demo_archive(version, folder / f"{product}-{version}-{platform}{suffix}", platform=platform,
                                 product=product, broken=options.pop("broken", False),
                                 payload_bytes=options.pop("payload_bytes", 0))
    options.setdefault("patches", 0)  # one file per version: the attacks here are on releases (deltas: U21-U26)
    return server_publish(TufRepository(server_dir), archive, product=product, version=version, platform=platform,
                          **options).target


def sign_release(server_dir: Path, archive: Path, version: str, *, name: str | None = None,
                 custom: dict[str, Any] | None = None) -> str:
    """Sign ``archive`` into the repository as release ``version`` WITHOUT ``release publish``'s archive checks:
    what an attacker holding the online targets key can do. Returns the target name."""
    repo = TufRepository(server_dir)
    data = archive.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    name = name or target_name(PRODUCT, version, current_platform(), ".tar.gz")
    info = ReleaseInfo(product=PRODUCT, version=version, platform=current_platform(), channel="stable",
                       released_at="2026-11-30T12:00:00Z")
    with repo.locked():
        if "/" not in name:
            (repo.targets_dir / f"{sha}.{name}").write_bytes(data)
        targets = repo.load_targets()
        targets.signed.targets[name] = TargetFile(length=len(data), hashes={"sha256": sha}, path=name,
                                                  unrecognized_fields={"custom": custom or info.to_custom()})
        repo.commit(targets)
    return name


def stranger() -> CryptoSigner:
    """A key nobody trusts."""
    return CryptoSigner.generate_ed25519()


def retired_signer(server_dir: Path, role: str, root_version: int = 1) -> CryptoSigner:
    """The key ``role`` had in root ``root_version``, taken from where ``tuf rotate-online`` retired it (a
    thief who kept a copy)."""
    repo = TufRepository(server_dir)
    root = repo.load_root(root_version).signed
    [keyid] = root.roles[role].keyids
    return load_signer(repo.keys_dir / "retired" / f"tuf-{role}-{keyid}.pem", root.get_key(keyid))


@dataclass
class Forged:
    """Forged metadata files (name → bytes) and the versions they carry."""

    files: dict[str, bytes]
    timestamp_version: int
    snapshot_version: int
    targets_version: int


def forge(server_dir: Path, *, change: Callable[[Targets], None] | None = None,
          targets_signers: list[Signer] | None = None, snapshot_signers: list[Signer] | None = None,
          timestamp_signers: list[Signer] | None = None, old_targets: bytes | None = None,
          old_snapshot: bytes | None = None, bump: int = 1) -> Forged:
    """A new timestamp → snapshot → targets chain made from the server's current files, in memory (nothing is
    written). ``change`` edits the targets (then they get version +``bump``); ``old_targets`` makes the new
    snapshot pin that older targets file; ``old_snapshot`` makes the new timestamp pin that older snapshot
    file (no new snapshot then). ``*_signers`` default to the server's own keys: the attacker has them."""
    repo = TufRepository(server_dir)
    files: dict[str, bytes] = {}
    snapshot = repo.load_snapshot()
    pinned = snapshot.signed.meta["targets.json"].version
    if old_targets is not None:
        pinned = Metadata[Targets].from_bytes(old_targets).signed.version
    elif change is not None:
        targets = repo.load_targets()
        change(targets.signed)
        targets.signed.version += bump
        repo.sign(targets, targets_signers)
        pinned = targets.signed.version
        files[f"{pinned}.targets.json"] = metadata_bytes(targets)
    if old_snapshot is not None:
        snap_bytes = old_snapshot
        snap_version = Metadata[Snapshot].from_bytes(old_snapshot).signed.version
    else:
        snapshot.signed.meta["targets.json"] = MetaFile(version=pinned)
        snapshot.signed.version += bump
        repo.sign(snapshot, snapshot_signers)
        snap_bytes = metadata_bytes(snapshot)
        snap_version = snapshot.signed.version
        files[f"{snap_version}.snapshot.json"] = snap_bytes
    stamp = repo.load_timestamp()
    stamp.signed.snapshot_meta = MetaFile(version=snap_version, length=len(snap_bytes),
                                          hashes={"sha256": hashlib.sha256(snap_bytes).hexdigest()})
    stamp.signed.version += bump
    repo.sign(stamp, timestamp_signers)
    files["timestamp.json"] = metadata_bytes(stamp)
    return Forged(files, stamp.signed.version, snap_version, pinned)


def forged_root(server_dir: Path, signers: list[Signer], *, new_keys: CryptoSigner) -> bytes:
    """Root version N+1 that hands every role to ``new_keys``, signed by ``signers``."""
    repo = TufRepository(server_dir)
    root = repo.load_root()
    for role in ("root", "targets", "snapshot", "timestamp"):
        for keyid in list(root.signed.roles[role].keyids):
            root.signed.revoke_key(keyid, role)
        root.signed.add_key(new_keys.public_key, role)
    root.signed.version += 1
    return metadata_bytes(repo.sign(root, signers))


def resign_past(server_dir: Path, forged: Forged) -> None:
    """The operator publishes again (targets, snapshot and timestamp re-signed) until every version is past the
    forged ones a client may have accepted (they were validly signed: TUF keeps them for rollback checks)."""
    repo = TufRepository(server_dir)
    with repo.locked():
        while (repo.load_timestamp().signed.version <= forged.timestamp_version
               or repo.load_snapshot().signed.version <= forged.snapshot_version
               or repo.load_targets().signed.version < forged.targets_version):
            repo.commit(repo.load_targets())


def served(server_dir: Path, name: str) -> bytes:
    """A metadata file as the server has it now."""
    return (server_dir / "repository" / "metadata" / name).read_bytes()


def role_version(server_dir: Path, role: str) -> int:
    """The version of ``role`` the server offers now."""
    repo = TufRepository(server_dir)
    loaders: dict[str, Callable[[], Metadata[Any]]] = {
        "timestamp": repo.load_timestamp, "snapshot": repo.load_snapshot, "targets": repo.load_targets,
        "root": repo.load_root}
    return int(loaders[role]().signed.version)


# -- what every refusal must look like --------------------------------------------------------------------------

def assert_refused(exc: BaseException, outcome: Outcome, *words: str) -> str:
    """``exc`` explained to people: one plain line holding ``words``, with ``outcome``. Returns the line."""
    text, found = explain(exc)
    assert found is outcome, (found, text)
    assert "\n" not in text and text.strip() == text and 20 < len(text) < 600, text
    unquoted = re.sub(r"'[^']*'", "", text)
    assert not _ISO_TIME.search(text) and not _HEX_RUN.search(text), f"not plain words: {text}"
    assert not _IDENTIFIER.search(unquoted), f"not plain words: {text}"
    for word in words:
        assert word.lower() in text.lower(), f"{word!r} not in: {text}"
    return text



# -- one attacked computer ---------------------------------------------------------------------------------------

@dataclass
class Scene:
    """The reference server, the attacker in front of it, and a Manager that reaches the server only through
    the attacker (its own app folder; CRYSTAL_MANAGER_HOME)."""

    server: ReferenceServer
    proxy: AttackProxy
    ctx: AppContext

    @property
    def data_dir(self) -> Path:
        """The server's folder."""
        return self.server.data_dir

    @property
    def install_root(self) -> Path:
        """Where the product's versions live."""
        return self.ctx.paths.install_root

    @property
    def downloads(self) -> Path:
        """Where release files are downloaded to."""
        return self.ctx.paths.data_dir / "updates" / "downloads"

    def service(self, license_status: Callable[[], LicenseStatus] | None = None) -> UpdateService:
        """The real update service (an active license unless ``license_status`` says otherwise)."""
        return UpdateService(self.ctx, license_status=license_status or (lambda: ACTIVE))

    def tree(self) -> dict[str, str]:
        """Every file under the install root: name, mode, content hash, link target."""
        return tree_snapshot(self.install_root)

    def install(self, version: str, svc: UpdateService | None = None) -> None:
        """Check, download and install ``version`` (it must be the one offered)."""
        svc = svc or self.service()
        result = svc.check()
        assert result.offer is not None and result.offer.version == version, result
        assert svc.download().complete
        assert svc.install().version == version
        assert svc.status().installed_version == version

    def force_pending(self, target: str, version: str, *, place_file: bool = True) -> None:
        """A crafted state file: ``target`` (signed on the server) is recorded as the download to install, and
        (``place_file``) the server's copy is put where a verified download would be."""
        from crystal_manager.updates.state import PendingRecord, StateFile

        signed = TufRepository(self.data_dir).load_targets().signed.targets[target]
        sha = signed.hashes["sha256"]
        if place_file:
            self.downloads.mkdir(parents=True, exist_ok=True)
            source = self.data_dir / "repository" / "targets" / f"{sha}.{target}"
            shutil.copyfile(source, self.downloads / f"{sha}.{target}")
        record = PendingRecord(version=version, target_name=target, length=signed.length, sha256=sha)
        StateFile(self.ctx.paths.data_dir / "updates" / "state.json").update(pending=record)

    def downloaded(self) -> list[str]:
        """Names of the files in the downloads folder."""
        return sorted(p.name for p in self.downloads.iterdir()) if self.downloads.exists() else []


@contextmanager
def scene(app_home: Path, server: ReferenceServer) -> Iterator[Scene]:
    """A Scene for the block (the app folder ``app_home`` is already CRYSTAL_MANAGER_HOME)."""
    with attack_proxy(server.url) as proxy:
        ctx = context(app_home, server.profile_file, proxy.url)
        try:
            yield Scene(server, proxy, ctx)
        finally:
            ctx.close()


# -- a scene's starting state, made once per test module ---------------------------------------------------------

@dataclass(frozen=True)
class SceneTemplate:
    """A server folder and an app folder left by ``prepare`` on a real scene (nothing serves them now), and
    the archives ``publish`` built beside the server folder."""

    server_dir: Path
    app_home: Path

    @property
    def archives(self) -> Path:
        """Where ``publish`` left the release archives it built (``server_dir``'s sibling)."""
        return self.server_dir.parent / "archives"


def scene_template(factory: pytest.TempPathFactory, name: str, server_template: Path,
                   prepare: Callable[[Scene], None]) -> SceneTemplate:
    """Run ``prepare`` once per test run on a real scene (a copy of ``server_template`` served, the attacker in
    front, the app in its own folder) and keep both folders as they are left (tests/support/run_once.py): each
    test starts from a copy (``scene_from``) instead of publishing and installing through the service again
    (~60 ms of CPU a test). The app's folders hold no absolute path (its links are relative) and the server's
    none of the app's."""
    folder = once_per_run(factory, name, lambda made: _make_scene(made, server_template, prepare))
    return SceneTemplate(folder / "server", folder / "app-home")


def _make_scene(folder: Path, server_template: Path, prepare: Callable[[Scene], None]) -> None:
    server_dir = copy_server_dir(server_template, folder / "server")
    app_home = folder / "app-home"
    app_home.mkdir()
    # As the app_home fixture sets them, for this block only.
    with environ({"CRYSTAL_MANAGER_HOME": str(app_home), "CRYSTAL_MANAGER_PROFILE": None,
                  "CRYSTAL_MANAGER_SERVER": None}), \
            run_reference_server(server_dir) as server, scene(app_home, server) as prepared:
        prepare(prepared)


@contextmanager
def scene_from(template: SceneTemplate, app_home: Path, server_dir: Path) -> Iterator[Scene]:
    """A Scene for the block on this test's own copies of ``template`` (``app_home`` is CRYSTAL_MANAGER_HOME
    already; ``server_dir`` must not exist): its own server process, attacker and app folder."""
    copy_server_dir(template.server_dir, server_dir)
    if template.archives.exists():
        shutil.copytree(template.archives, server_dir.parent / "archives")
    shutil.copytree(template.app_home, app_home, symlinks=True, dirs_exist_ok=True)
    with run_reference_server(server_dir) as server, scene(app_home, server) as copied:
        yield copied
