"""Attacks on the signed update information, end to end: the real UpdateService (or the real CLI process)
reaches the real reference server only through an attacker on loopback (tests/support/update_attack.py).

Every attack must be refused with one plain line, leave every file under the install root as it was, and
leave nothing behind: once the server is restored, the good release checks, downloads and installs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import TargetFile, Targets

from crystal_manager.cli.exit_codes import EXIT_OFFLINE
from crystal_manager.services.update_service import UpdateService
from crystal_manager.services.usertext import Outcome
from crystal_manager.updates.errors import MetadataExpired, MetadataRejected, TargetRejected
from crystal_manager.updates.state import PendingRecord, StateFile
from crystal_protocol.releases import PRODUCT, ReleaseInfo, current_platform, target_name
from crystal_server.releases import yank
from crystal_server.tuf_repo import Lifetimes, TufRepository
from tests.support.faketime import offset_env
from tests.support.update_attack import (
    Scene,
    SceneTemplate,
    assert_refused,
    forge,
    forged_root,
    publish,
    resign_past,
    retired_signer,
    role_version,
    scene_from,
    scene_template,
    served,
    sign_release,
    stranger,
)

REPO = Path(__file__).resolve().parents[2]
EVIL = target_name(PRODUCT, "9.9.0", current_platform(), ".tar.gz")


def _prepare(prepared: Scene) -> None:
    publish(prepared.data_dir, "1.0.0")
    prepared.install("1.0.0")
    publish(prepared.data_dir, "1.1.0")


@pytest.fixture(scope="session")
def sc_template(tmp_path_factory: pytest.TempPathFactory, server_template: Path) -> SceneTemplate:
    """The state every test starts from, made once per run through the real service (session scope: the
    module's tests may spread over the xdist workers, who share it; tests/support/run_once.py)."""
    return scene_template(tmp_path_factory, "attack-metadata", server_template, _prepare)


@pytest.fixture
def sc(app_home: Path, tmp_path: Path, sc_template: SceneTemplate) -> Iterator[Scene]:
    """1.0.0 installed through the attacker (nothing attacked yet), then 1.1.0 published on the server. Each
    test has its own copy of both folders, its own server process and attacker."""
    with scene_from(sc_template, app_home, tmp_path / "server") as attacked:
        yield attacked


def add_evil(targets: Targets) -> None:
    """What an attacker wants signed: a 9.9.0 release whose file is theirs."""
    info = ReleaseInfo(product=PRODUCT, version="9.9.0", platform=current_platform(), channel="stable",
                       released_at="2026-11-30T12:00:00Z", critical=True)
    targets.targets[EVIL] = TargetFile(length=1234, hashes={"sha256": "e" * 64}, path=EVIL,
                                       unrecognized_fields={"custom": info.to_custom()})


def refused(sc: Scene, svc: UpdateService, error: type[Exception], *words: str,
            outcome: Outcome = Outcome.OFFLINE) -> str:
    """The download (a fresh check first) is refused in plain words and nothing on disk changed."""
    tree, downloads, asked = sc.tree(), sc.downloaded(), len(sc.proxy.targets_asked())
    with pytest.raises(error) as caught:
        svc.download()
    text = assert_refused(caught.value, outcome, *words)
    assert sc.tree() == tree and sc.downloaded() == downloads
    assert len(sc.proxy.targets_asked()) == asked  # no release file was even asked for
    assert svc.status().installed_version == "1.0.0" and svc.status().pending is None
    return text


def recovers(sc: Scene, version: str = "1.1.0") -> None:
    """The server is restored: the good release is offered, downloaded, verified and installed."""
    sc.proxy.restore()
    svc = sc.service()
    sc.install(version, svc)
    assert all(f"-{version}-" in name for name in sc.downloaded())  # nothing else kept


@pytest.mark.parametrize("where", ["targets content", "timestamp signature"])
def test_bad_signature_on_metadata(sc: Scene, where: str) -> None:
    """Signed metadata changed after signing (a release's hash swapped; a signature's bytes changed)."""
    if where == "targets content":
        name = f"{role_version(sc.data_dir, 'targets')}.targets.json"
        data = json.loads(served(sc.data_dir, name))
        [release] = [t for t in data["signed"]["targets"].values() if t["custom"]["version"] == "1.1.0"]
        release["hashes"]["sha256"] = "e" * 64
    else:
        name = "timestamp.json"
        data = json.loads(served(sc.data_dir, name))
        sig = data["signatures"][0]["sig"]
        data["signatures"][0]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    sc.proxy.serve({name: json.dumps(data).encode()})
    refused(sc, sc.service(), MetadataRejected, "could not be trusted", "not signed by the trusted keys",
            "nothing was installed or changed")
    recovers(sc)


@pytest.mark.parametrize("role", ["every role", "targets only", "a new root"])
def test_metadata_signed_by_an_untrusted_key(sc: Scene, role: str) -> None:
    """A stranger's key: for the whole chain (no key of ours at all), for the targets only (the attacker has
    our snapshot and timestamp keys), or a root N+1 handing every role to the stranger."""
    evil = stranger()
    if role == "every role":
        forged = forge(sc.data_dir, change=add_evil, targets_signers=[evil], snapshot_signers=[evil],
                       timestamp_signers=[evil])
        sc.proxy.serve(forged.files)
    elif role == "targets only":
        forged = forge(sc.data_dir, change=add_evil, targets_signers=[evil])
        sc.proxy.serve(forged.files)
    else:
        sc.proxy.serve({f"{role_version(sc.data_dir, 'root') + 1}.root.json":
                        forged_root(sc.data_dir, [evil], new_keys=evil)})
    refused(sc, sc.service(), MetadataRejected, "not signed by the trusted keys")
    if role == "targets only":
        resign_past(sc.data_dir, forged)  # the timestamp and snapshot it accepted were validly signed
    recovers(sc)


@pytest.mark.parametrize("role", ["timestamp", "targets"])
def test_metadata_signed_by_a_key_revoked_through_rotation(sc: Scene, role: str) -> None:
    """``tuf rotate-online``, then metadata signed with the replaced key (a thief kept a copy). The client
    has not seen the new root yet: it walks to it first, then refuses the old key."""
    repo = TufRepository(sc.data_dir)
    with repo.locked():
        repo.rotate_online()
    old = retired_signer(sc.data_dir, role)
    if role == "timestamp":
        forged = forge(sc.data_dir, timestamp_signers=[old])
    else:
        forged = forge(sc.data_dir, change=add_evil, targets_signers=[old])
    sc.proxy.serve(forged.files)
    refused(sc, sc.service(), MetadataRejected, "not signed by the trusted keys")
    resign_past(sc.data_dir, forged)
    recovers(sc)


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
def test_metadata_rolled_back(sc: Scene, role: str) -> None:
    """After the client saw newer metadata, older metadata is served: an old timestamp (no key needed); a new
    timestamp pinning an old snapshot, or a new snapshot pinning old targets that still list a yanked release
    (both need our online keys)."""
    svc = sc.service()
    old = {r: served(sc.data_dir, n) for r, n in (
        ("timestamp", "timestamp.json"),
        ("snapshot", f"{role_version(sc.data_dir, 'snapshot')}.snapshot.json"),
        ("targets", f"{role_version(sc.data_dir, 'targets')}.targets.json"))}
    if role == "targets":
        yank(TufRepository(sc.data_dir), product=PRODUCT, version="1.1.0")  # found to be dangerous
    else:
        TufRepository(sc.data_dir).commit()  # a newer snapshot and timestamp, nothing else changed
    seen = svc.check()  # this computer now trusts the newer metadata
    assert (seen.offer is None) == (role == "targets")
    if role == "timestamp":
        sc.proxy.serve({"timestamp.json": old["timestamp"]})
        forged = None
    elif role == "snapshot":
        forged = forge(sc.data_dir, old_snapshot=old["snapshot"])
        sc.proxy.serve(forged.files)
    else:
        forged = forge(sc.data_dir, old_targets=old["targets"])
        sc.proxy.serve(forged.files)
    refused(sc, svc, MetadataRejected, "older than what this computer already trusts", "rollback")
    if forged is not None:
        resign_past(sc.data_dir, forged)
    if role == "targets":
        publish(sc.data_dir, "1.2.0")
        recovers(sc, "1.2.0")
    else:
        recovers(sc)


@pytest.mark.parametrize("role", ["snapshot", "targets"])
def test_mix_and_match(sc: Scene, role: str) -> None:
    """Each file is genuine, but not the one its parent pins: the snapshot of another version under the
    name the timestamp pins (its hash differs), or other targets under the name the snapshot pins."""
    version = role_version(sc.data_dir, role)
    sc.proxy.serve({f"{version}.{role}.json": served(sc.data_dir, f"{version - 1}.{role}.json")})
    words = "do not match each other" if role == "snapshot" else "rollback"
    refused(sc, sc.service(), MetadataRejected, words)
    recovers(sc)


@pytest.mark.parametrize("name", ["timestamp.json", "snapshot.json", "targets.json", "root.json"])
def test_metadata_bigger_than_the_cap(sc: Scene, name: str) -> None:
    """A metadata file that never ends (the root chain's next version too): the client stops at its cap."""
    version = {"timestamp.json": "", "snapshot.json": f"{role_version(sc.data_dir, 'snapshot')}.",
               "targets.json": f"{role_version(sc.data_dir, 'targets')}.",
               "root.json": f"{role_version(sc.data_dir, 'root') + 1}."}[name]
    sc.proxy.on(version + name, sc.proxy.endless("application/json"))
    started = time.monotonic()
    refused(sc, sc.service(), MetadataRejected, "larger than any update information may be")
    assert time.monotonic() - started < 10
    assert sc.proxy.endless_sent < 64 * 1024 * 1024  # the client hung up, it did not read on
    recovers(sc)


@pytest.mark.parametrize("body", [b"[" * 16000, b"\xff\xfe{}", b"", b"null", b"NaN"],
                         ids=["nested past the recursion limit", "not UTF-8", "empty", "null", "NaN"])
def test_garbage_metadata(sc: Scene, body: bytes) -> None:
    """Whatever bytes come instead of a timestamp: refused as unverifiable, in words."""
    if body == b"NaN":  # valid JSON to Python, but not canonical JSON: the signature cannot even be checked
        body = served(sc.data_dir, "timestamp.json").replace(b'"version": ', b'"version": NaN, "x": ', 1)
    sc.proxy.serve({"timestamp.json": body})
    refused(sc, sc.service(), MetadataRejected, "could not be trusted")
    recovers(sc)


def test_fast_forward_attack_is_healed_by_rotating_the_online_keys(sc: Scene) -> None:
    """With our (then valid) online keys, an attacker pushes timestamp and snapshot versions far ahead:
    the real ones now look like a rollback. Rotating the online keys heals every client."""
    forged = forge(sc.data_dir, bump=1000)
    sc.proxy.serve(forged.files)
    svc = sc.service()
    assert svc.check().offer is not None  # validly signed: accepted
    sc.proxy.restore()
    refused(sc, svc, MetadataRejected, "rollback")
    repo = TufRepository(sc.data_dir)
    with repo.locked():
        repo.rotate_online()
    recovers(sc)


def test_target_names_with_slash_or_dotdot_never_become_paths(sc: Scene, tmp_path: Path) -> None:
    """Targets signed by the targets key whose names are paths: never offered, never asked for, never a file
    outside the downloads folder; a state file pointing at one is refused before any request."""
    archive = sc.data_dir.parent / "archives" / f"{PRODUCT}-1.1.0-{current_platform()}.tar.gz"
    names = [f"../../{EVIL}", f"sub/{EVIL}", f"{EVIL}/..", f"..{EVIL}", f"{EVIL}.."]
    for name in names:
        sign_release(sc.data_dir, archive, "9.9.0", name=name)
    svc = sc.service()
    result = svc.check()
    assert result.offer is not None and result.offer.version == "1.1.0"
    assert result.newest is not None and result.newest.version == "1.1.0"
    before_home = {p for p in tmp_path.rglob("*") if EVIL in p.name}
    # Forced: the state names the signed target "<EVIL>.." (no slash, so the state file accepts it).
    record = PendingRecord(version="9.9.0", target_name=f"{EVIL}..", length=archive.stat().st_size,
                           sha256=hashlib.sha256(archive.read_bytes()).hexdigest())
    StateFile(sc.ctx.paths.data_dir / "updates" / "state.json").update(pending=record)
    tree = sc.tree()
    with pytest.raises(TargetRejected) as caught:
        svc.install()
    assert_refused(caught.value, Outcome.OFFLINE, "not a plain file name")
    assert sc.tree() == tree
    assert not any("9.9.0" in path for path, _headers in sc.proxy.targets_asked())
    assert {p for p in tmp_path.rglob("*") if EVIL in p.name} == before_home  # only the server's own copies
    recovers(sc)


def test_expired_timestamp_from_a_frozen_server(sc: Scene) -> None:
    """The server stops re-signing (``tuf refresh --expires-in 2``, then frozen); the real CLI process, with
    its clock an hour on (libfaketime), refuses what it is served. In process, on the real clock: the same
    frozen server an hour earlier (the repository signs with its own ``now`` an hour back)."""
    clock = offset_env("+1h")
    proc = sc.server.admin("tuf", "refresh", str(sc.data_dir), "--expires-in", "2")
    assert proc.returncode == 0, proc.stderr
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           **clock}
    argv = [sys.executable, "-m", "crystal_manager", "--profile", str(sc.server.profile_file),
            "--server", sc.proxy.url, "update", "download"]
    tree, asked = sc.tree(), len(sc.proxy.targets_asked())
    cli = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert cli.returncode == EXIT_OFFLINE, cli.stderr
    [line] = cli.stderr.strip().splitlines()
    assert line.startswith("crystal-manager: The update information is out of date:"), line
    assert "stale or frozen" in line and "Nothing was installed or changed." in line
    assert sc.tree() == tree and len(sc.proxy.targets_asked()) == asked
    repo = TufRepository(sc.data_dir, Lifetimes(timestamp=timedelta(seconds=2)))
    with repo.locked():
        assert repo.refresh(force=True, now=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)) == [
            "timestamp"]
    with pytest.raises(MetadataExpired) as caught:
        sc.service().check()
    assert_refused(caught.value, Outcome.OFFLINE, "out of date")
    assert sc.tree() == tree and len(sc.proxy.targets_asked()) == asked
    proc = sc.server.admin("tuf", "refresh", str(sc.data_dir))  # the server re-signs again
    assert proc.returncode == 0, proc.stderr
    recovers(sc)
