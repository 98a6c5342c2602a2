"""The update repository: TUF metadata made with python-tuf's Metadata API, and the target files.

Layout under the server folder ``DIR`` (consistent snapshots: every file but ``timestamp.json`` is
immutable and named by version or hash, so any static host or CDN may cache it for ever)::

    DIR/offline/root-<keyid>.pem             root key, 0600 (folder 0700): the one to move off the server
    DIR/offline/retired/                     root keys replaced by ``tuf rotate-root``
    DIR/keys/tuf-<role>-<keyid>.pem          online keys for targets, snapshot, timestamp, 0600
    DIR/keys/retired/                        online keys replaced by ``tuf rotate-online``
    DIR/repository/metadata/N.root.json      every root version: clients walk the chain 1 → 2 → …
    DIR/repository/metadata/N.targets.json   N.snapshot.json, timestamp.json
    DIR/repository/targets/<sha256>.<name>   release archives (python-tuf asks for hash-prefixed names)
    DIR/repository/yanked.json               releases taken back (never offered again under that version)
    DIR/repository/.lock                     one writer at a time (CLI verbs and the server's refresher)

Key files are found by the key ids the newest root lists for each role, never by "the newest file".
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, Signer, SSlibKey
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
TIMESTAMP_EXPIRY_ENV = "CRYSTAL_SERVER_TIMESTAMP_EXPIRY"
LOCK_TIMEOUT_ENV = "CRYSTAL_SERVER_LOCK_TIMEOUT"
_VERSIONED = re.compile(r"^([1-9]\d*)\.(root|targets|snapshot)\.json$")
T = TypeVar("T", Root, Timestamp, Snapshot, Targets)


class RepoError(Exception):
    """One line for the operator; ``code`` is the CLI's exit code (2 bad input, 3 refused by state)."""

    def __init__(self, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Lifetimes:
    """How long each role's metadata stays valid after it is signed."""

    root: timedelta = timedelta(days=365)
    targets: timedelta = timedelta(days=90)
    snapshot: timedelta = timedelta(days=7)
    timestamp: timedelta = timedelta(days=1)

    def of(self, role: str) -> timedelta:
        """The lifetime of ``role``."""
        value: timedelta = getattr(self, role)
        return value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Lifetimes:
        """The defaults, with the timestamp's lifetime from ``$CRYSTAL_SERVER_TIMESTAMP_EXPIRY`` (seconds;
        tests and the freeze-attack suite use a few seconds)."""
        env = os.environ if environ is None else environ
        text = env.get(TIMESTAMP_EXPIRY_ENV)
        if not text:
            return cls()
        try:
            seconds = float(text)
        except ValueError:
            raise RepoError(f"{TIMESTAMP_EXPIRY_ENV} must be a number of seconds, not {text!r}", 2) from None
        if seconds < 1:
            raise RepoError(f"{TIMESTAMP_EXPIRY_ENV} must be at least 1 second", 2)
        return cls(timestamp=timedelta(seconds=seconds))


def utc_now() -> datetime:
    """Now, in UTC, to the second (metadata expiry has no finer grain)."""
    return datetime.now(UTC).replace(microsecond=0)


def _write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    # Temporary name starts with a dot: the static routes never serve it; rename makes it appear whole.
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def new_signer(folder: Path, prefix: str) -> CryptoSigner:
    """A new Ed25519 key saved as ``folder/<prefix>-<keyid>.pem`` (0600) and its signer."""
    signer = CryptoSigner(Ed25519PrivateKey.generate())
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_file(folder / f"{prefix}-{signer.public_key.keyid}.pem", signer.private_bytes, 0o600)
    return signer


def load_signer(path: Path, public_key: Any) -> CryptoSigner:
    """The signer for the PEM key at ``path``; it must match ``public_key`` (an SSlibKey from a root)."""
    if not isinstance(public_key, SSlibKey):
        raise RepoError(f"key {getattr(public_key, 'keyid', '?')} is not a key this repository can use")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise RepoError(f"the private key for {public_key.keyid[:16]}… is missing: {path}") from None
    except ValueError as exc:
        raise RepoError(f"{path} is not a usable private key: {exc}") from exc
    try:
        return CryptoSigner(private, public_key)
    except ValueError as exc:  # also KeyMismatchError
        raise RepoError(f"{path} does not hold the key the root lists ({exc})") from exc


def metadata_bytes(md: Metadata[Any]) -> bytes:
    """The bytes we write for ``md`` (indented JSON; signatures cover the canonical form, not these)."""
    return md.to_bytes(JSONSerializer(compact=False))


def file_name(md: Metadata[Any]) -> str:
    """The consistent-snapshot file name: ``timestamp.json`` or ``N.<role>.json``."""
    role = md.signed.type
    return "timestamp.json" if role == Timestamp.type else f"{md.signed.version}.{role}.json"


@dataclass
class TufRepository:
    """The repository under ``data_dir``. Methods that change it must run inside :meth:`locked`."""

    data_dir: Path
    lifetimes: Lifetimes = field(default_factory=Lifetimes)

    @property
    def metadata_dir(self) -> Path:
        """``DIR/repository/metadata``."""
        return self.data_dir / "repository" / "metadata"

    @property
    def targets_dir(self) -> Path:
        """``DIR/repository/targets``."""
        return self.data_dir / "repository" / "targets"

    @property
    def keys_dir(self) -> Path:
        """Online keys (``DIR/keys``)."""
        return self.data_dir / "keys"

    @property
    def offline_dir(self) -> Path:
        """The root key (``DIR/offline``)."""
        return self.data_dir / "offline"

    # -- locking -----------------------------------------------------------------------------------------

    @contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the repository's write lock (fcntl; CLI verbs and the serving refresher share it). Waits up
        to ``timeout`` seconds (default 30, or ``$CRYSTAL_SERVER_LOCK_TIMEOUT``), then RepoError "busy".
        Not re-entrant: a second ``locked()`` in the same process waits for the first."""
        if timeout is None:
            try:
                timeout = float(os.environ.get(LOCK_TIMEOUT_ENV) or 30.0)
            except ValueError:
                timeout = 30.0
        path = self.data_dir / "repository" / ".lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RepoError(f"the update repository in {self.data_dir} is busy (another "
                                        "crystal-server command holds its lock)") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # -- reading -----------------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether ``crystal-server init`` made TUF metadata here."""
        return (self.metadata_dir / "1.root.json").is_file()

    def _require(self) -> None:
        if not self.exists():
            raise RepoError(f"{self.data_dir} has no update repository; run: crystal-server init DIR", 2)

    def root_version(self) -> int:
        """The newest root version on disk."""
        self._require()
        found = [int(m.group(1)) for p in self.metadata_dir.iterdir()
                 if (m := _VERSIONED.match(p.name)) and m.group(2) == "root"]
        return max(found)

    def _load(self, name: str, kind: type[T]) -> Metadata[T]:
        path = self.metadata_dir / name
        try:
            md = Metadata[T].from_file(str(path))
        except FileNotFoundError:
            raise RepoError(f"metadata file missing: {path}") from None
        except Exception as exc:  # python-tuf raises DeserializationError and friends
            raise RepoError(f"cannot read {path}: {exc}") from exc
        if not isinstance(md.signed, kind):
            raise RepoError(f"{path} is not {kind.type} metadata")
        return md

    def load_root(self, version: int | None = None) -> Metadata[Root]:
        """Root metadata: the newest, or ``version``."""
        return self._load(f"{version or self.root_version()}.root.json", Root)

    def load_timestamp(self) -> Metadata[Timestamp]:
        """The current ``timestamp.json``."""
        self._require()
        return self._load("timestamp.json", Timestamp)

    def load_snapshot(self) -> Metadata[Snapshot]:
        """The snapshot the timestamp points to."""
        return self._load(f"{self.load_timestamp().signed.snapshot_meta.version}.snapshot.json", Snapshot)

    def load_targets(self) -> Metadata[Targets]:
        """The targets metadata the snapshot points to."""
        return self._load(f"{self.load_snapshot().signed.meta['targets.json'].version}.targets.json", Targets)

    def key_path(self, role: str, keyid: str) -> Path:
        """Where the private key ``keyid`` of ``role`` is kept."""
        if role == Root.type:
            return self.offline_dir / f"root-{keyid}.pem"
        return self.keys_dir / f"tuf-{role}-{keyid}.pem"

    def signers(self, role: str, root: Metadata[Root] | None = None) -> list[CryptoSigner]:
        """The signers for ``role`` as the (newest) root names them."""
        signed = (root or self.load_root()).signed
        return [load_signer(self.key_path(role, kid), signed.get_key(kid))
                for kid in signed.roles[role].keyids]

    # -- writing -----------------------------------------------------------------------------------------

    def write(self, md: Metadata[Any]) -> Path:
        """Write ``md`` under its consistent-snapshot name, atomically; returns the path."""
        path = self.metadata_dir / file_name(md)
        _write_file(path, metadata_bytes(md))
        return path

    def sign(self, md: Metadata[T], signers: list[Signer] | None = None) -> Metadata[T]:
        """Replace ``md``'s signatures with the role's own (or ``signers``: attack tests sign with others)."""
        md.signatures.clear()
        for signer in signers if signers is not None else self.signers(md.signed.type):
            md.sign(signer, append=True)
        return md

    def _renew(self, md: Metadata[T], now: datetime) -> Metadata[T]:
        md.signed.version += 1
        md.signed.expires = now + self.lifetimes.of(md.signed.type)
        return md

    def commit(self, targets: Metadata[Targets] | None = None, *, snapshot: bool = True,
               now: datetime | None = None) -> Metadata[Timestamp]:
        """Publish a new consistent state: new ``targets`` (if given, version bumped and signed), a new
        snapshot (if ``snapshot`` or targets changed), and always a new timestamp. The timestamp is written
        last: until it is replaced, clients see the previous state whole."""
        now = now or utc_now()
        if targets is not None:
            self.write(self.sign(self._renew(targets, now)))
        if targets is not None or snapshot:
            snap = self.load_snapshot()
            if targets is not None:
                snap.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
            snap_path = self.write(self.sign(self._renew(snap, now)))
        else:
            snap_path = self.metadata_dir / f"{self.load_snapshot().signed.version}.snapshot.json"
        stamp = self.load_timestamp()
        data = snap_path.read_bytes()
        version = int(snap_path.name.split(".", 1)[0])
        stamp.signed.snapshot_meta = MetaFile(version=version, length=len(data),
                                              hashes={"sha256": hashlib.sha256(data).hexdigest()})
        self.write(self.sign(self._renew(stamp, now)))
        return stamp

    # -- keeping it fresh ---------------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[str]:
        """Online roles with less than half their lifetime left (or already expired), or not signed by the
        keys the newest root lists (a key rotation interrupted before the roles were re-signed)."""
        now = now or utc_now()
        root = self.load_root().signed
        found = []
        for role, md in (("targets", self.load_targets()), ("snapshot", self.load_snapshot()),
                         ("timestamp", self.load_timestamp())):
            if md.signed.expires - now < self.lifetimes.of(role) / 2 or not root.get_verification_result(
                    role, md.signed_bytes, md.signatures).verified:
                found.append(role)
        return found

    def refresh(self, *, force: bool = False, now: datetime | None = None) -> list[str]:
        """Re-sign what is due (with ``force``, the timestamp in any case); returns the roles re-signed."""
        due = self.due(now)
        if force and "timestamp" not in due:
            due.append("timestamp")
        if not due:
            return []
        # A new targets needs a new snapshot, and any new snapshot a new timestamp.
        with_targets = "targets" in due
        with_snapshot = with_targets or "snapshot" in due
        self.commit(self.load_targets() if with_targets else None, snapshot=with_snapshot, now=now)
        return [role for role, done in (("targets", with_targets), ("snapshot", with_snapshot),
                                        ("timestamp", True)) if done]

    # -- keys -------------------------------------------------------------------------------------------

    def _retire(self, role: str, keyid: str) -> None:
        source = self.key_path(role, keyid)
        target = source.parent / "retired" / source.name
        target.parent.mkdir(mode=0o700, exist_ok=True)
        if source.exists():
            os.replace(source, target)

    def rotate_root(self, now: datetime | None = None) -> Metadata[Root]:
        """Root version N+1 with a new root key, signed by the new key AND the old one (a client that
        trusts N accepts N+1 only with the old key's signature); the old key is retired afterwards."""
        now = now or utc_now()
        root = self.load_root()
        old = self.signers(Root.type, root)
        fresh = new_signer(self.offline_dir, "root")
        for signer in old:
            root.signed.revoke_key(signer.public_key.keyid, Root.type)
        root.signed.add_key(fresh.public_key, Root.type)
        self._renew(root, now)
        self.sign(root, [fresh, *old])
        self.write(root)
        for signer in old:
            self._retire(Root.type, signer.public_key.keyid)
        return root

    def rotate_online(self, roles: tuple[str, ...] = ONLINE_ROLES, now: datetime | None = None) -> Metadata[Root]:
        """New keys for ``roles``, recorded in root N+1 (signed by the root key); then targets, snapshot
        and timestamp re-signed with the keys now listed, and the replaced keys retired."""
        now = now or utc_now()
        root = self.load_root()
        root_signers = self.signers(Root.type, root)
        replaced: list[tuple[str, str]] = []
        for role in roles:
            if role not in ONLINE_ROLES:
                raise RepoError(f"not an online role: {role!r} (one of {', '.join(ONLINE_ROLES)})", 2)
            fresh = new_signer(self.keys_dir, f"tuf-{role}")
            for kid in list(root.signed.roles[role].keyids):
                root.signed.revoke_key(kid, role)
                replaced.append((role, kid))
            root.signed.add_key(fresh.public_key, role)
        self.sign(self._renew(root, now), list(root_signers))
        self.write(root)
        self.commit(self.load_targets(), now=now)
        for role, kid in replaced:
            self._retire(role, kid)
        return root

    # -- facts --------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Per role: version, expiry, key ids and threshold (as ``tuf status --json`` prints them)."""
        root = self.load_root()
        found: dict[str, Any] = {"consistent_snapshot": bool(root.signed.consistent_snapshot)}
        for role, md in (("root", root), ("targets", self.load_targets()), ("snapshot", self.load_snapshot()),
                         ("timestamp", self.load_timestamp())):
            spec = root.signed.roles[role]
            found[role] = {"version": md.signed.version,
                           "expires": md.signed.expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "keyids": list(spec.keyids), "threshold": spec.threshold,
                           "signed_by": sorted(md.signatures)}
        return found


def keep_fresh(repo: TufRepository, interval: float, stop: threading.Event,
               log: Callable[[str], None], *, wait_first: bool = False) -> None:
    """Until ``stop`` is set: every ``interval`` seconds, re-sign what is due (the timestamp when less
    than half its lifetime is left). Runs in the server's background thread; never raises (a failure
    is logged and tried again: clients refuse an expired timestamp, so a stuck refresher fails closed).
    ``wait_first``: the first pass was already made (``refresh_due`` before the server listened)."""
    if wait_first and stop.wait(interval):
        return
    while True:
        refresh_due(repo, interval, log)
        if stop.wait(interval):
            return


def refresh_due(repo: TufRepository, lock_timeout: float, log: Callable[[str], None]) -> None:
    """One pass of ``keep_fresh``: re-sign what is due; never raises (a failure is logged)."""
    try:
        with repo.locked(timeout=max(lock_timeout, 1.0)):
            done = repo.refresh()
        if done:
            log(f"re-signed {', '.join(done)} (timestamp version {repo.load_timestamp().signed.version})")
    except Exception as exc:  # any failure: log it, keep serving, try again
        log(f"could not re-sign the update metadata: {exc}")


def _fresh_root(signers: dict[str, Signer], lifetimes: Lifetimes, now: datetime) -> Metadata[Root]:
    root = Metadata(Root(expires=now + lifetimes.root, consistent_snapshot=True))
    for role, signer in signers.items():
        root.signed.add_key(signer.public_key, role)
    root.sign(signers[Root.type])
    return root


def init_repository(data_dir: Path, lifetimes: Lifetimes | None = None, now: datetime | None = None) -> TufRepository:
    """Create the keys and version 1 of every role (no targets yet) under ``data_dir``."""
    repo = TufRepository(data_dir, lifetimes or Lifetimes())
    if repo.exists():
        raise RepoError(f"{data_dir} already has an update repository")
    now = now or utc_now()
    repo.metadata_dir.mkdir(parents=True, exist_ok=True)
    repo.targets_dir.mkdir(parents=True, exist_ok=True)
    with repo.locked():
        signers: dict[str, Signer] = {Root.type: new_signer(repo.offline_dir, "root")}
        for role in ONLINE_ROLES:
            signers[role] = new_signer(repo.keys_dir, f"tuf-{role}")
        targets = Metadata(Targets(expires=now + repo.lifetimes.targets))
        targets.sign(signers["targets"])
        repo.write(targets)
        snapshot = Metadata(Snapshot(expires=now + repo.lifetimes.snapshot))
        snapshot.sign(signers["snapshot"])
        data = metadata_bytes(snapshot)
        repo.write(snapshot)
        stamp = Metadata(Timestamp(expires=now + repo.lifetimes.timestamp, snapshot_meta=MetaFile(
            version=1, length=len(data), hashes={"sha256": hashlib.sha256(data).hexdigest()})))
        stamp.sign(signers["timestamp"])
        repo.write(stamp)
        # The root last: a folder with 1.root.json is a whole repository (exists() looks for it).
        repo.write(_fresh_root(signers, repo.lifetimes, now))
    return repo


def detached_root(lifetimes: Lifetimes | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Root metadata (version 1) whose four private keys exist only inside this call: made, used to sign,
    and dropped. For a trust anchor that must not be usable by anyone (the placeholder production root)."""
    signers: dict[str, Signer] = {role: CryptoSigner(Ed25519PrivateKey.generate())
                                  for role in (Root.type, *ONLINE_ROLES)}
    return _fresh_root(signers, lifetimes or Lifetimes(), now or utc_now()).to_dict()


def root_document(repo: TufRepository, version: int | None = None) -> dict[str, Any]:
    """A root version as the JSON object profiles carry in ``tuf_root``."""
    return repo.load_root(version).to_dict()


__all__ = ["ONLINE_ROLES", "TIMESTAMP_EXPIRY_ENV", "Lifetimes", "RepoError", "TufRepository", "detached_root",
           "file_name", "init_repository", "keep_fresh", "load_signer", "metadata_bytes", "new_signer",
           "root_document", "utc_now"]
