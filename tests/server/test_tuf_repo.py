"""The update repository's TUF roles: made at init, verified with python-tuf, rotated, kept fresh."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from crystal_server.tuf_repo import RepoError, TufRepository, detached_root, load_signer
from tests.server.tuf_support import demo_archive, init, ok, profile_root, publish, root_bytes, server_cli, updater
from tests.support.servers import run_reference_server


def md(server: Path, name: str) -> Metadata:  # type: ignore[type-arg]
    return Metadata.from_file(str(server / "repository" / "metadata" / name))


def test_init_makes_four_signed_roles_with_the_root_key_apart(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    meta = server / "repository" / "metadata"
    assert sorted(p.name for p in meta.iterdir()) == ["1.root.json", "1.snapshot.json", "1.targets.json",
                                                      "timestamp.json"]
    root = md(server, "1.root.json")
    assert isinstance(root.signed, Root) and root.signed.consistent_snapshot is True
    root.verify_delegate("root", root)
    for role, name, kind in (("targets", "1.targets.json", Targets), ("snapshot", "1.snapshot.json", Snapshot),
                             ("timestamp", "timestamp.json", Timestamp)):
        loaded = md(server, name)
        assert isinstance(loaded.signed, kind)
        root.verify_delegate(role, loaded)
    # Lifetimes: root a year, targets three months, snapshot a week, timestamp a day (to the hour).
    lifetimes = {name: (md(server, name).signed.expires - root.signed.expires).days
                 for name in ("1.targets.json", "1.snapshot.json", "timestamp.json")}
    assert lifetimes == {"1.targets.json": 90 - 365, "1.snapshot.json": 7 - 365, "timestamp.json": 1 - 365}
    # Every role its own key; the root key lives in offline/, never with the online keys.
    keyids = {role: root.signed.roles[role].keyids for role in ("root", "targets", "snapshot", "timestamp")}
    assert all(len(k) == 1 for k in keyids.values()) and len({k[0] for k in keyids.values()}) == 4
    [root_pem] = (server / "offline").iterdir()
    assert root_pem.name == f"root-{keyids['root'][0]}.pem"
    assert root_pem.stat().st_mode & 0o077 == 0 and (server / "offline").stat().st_mode & 0o077 == 0
    online = sorted(p.name for p in (server / "keys").glob("tuf-*.pem"))
    assert online == sorted(f"tuf-{r}-{keyids[r][0]}.pem" for r in ("targets", "snapshot", "timestamp"))
    assert all((server / "keys" / n).stat().st_mode & 0o077 == 0 for n in online)
    assert not list((server / "keys").glob("root-*"))
    # The profile carries exactly version 1 of the root, and no private key anywhere in the repository.
    profile = json.loads((server / "profile.json").read_text())
    assert profile["tuf_root"] == json.loads(root_bytes(server))
    assert not any("PRIVATE" in p.read_text() for p in meta.iterdir())


def test_tuf_status_reports_versions_expiries_and_keys(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    status = json.loads(ok("tuf", "status", str(server), "--json"))
    root = md(server, "1.root.json").signed
    assert status["consistent_snapshot"] is True
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert status[role]["version"] == 1 and status[role]["keyids"] == root.roles[role].keyids
        assert status[role]["signed_by"] == root.roles[role].keyids
    text = ok("tuf", "status", str(server))
    assert text.splitlines()[3].startswith("timestamp v1")


def test_refresh_resigns_the_timestamp_with_a_new_version_and_expiry(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    before = md(server, "timestamp.json").signed
    out = ok("tuf", "refresh", str(server), "--expires-in", "60")
    after = md(server, "timestamp.json")
    assert after.signed.version == before.version + 1 and "timestamp version 2" in out
    assert (after.signed.expires - before.expires).total_seconds() < -3600  # a minute, not a day
    md(server, "1.root.json").verify_delegate("timestamp", after)
    assert after.signed.snapshot_meta.version == 1  # nothing else was due


def test_rotate_root_new_root_is_signed_by_old_and_new_and_old_clients_follow(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    demo_archive(tmp_path / "a.tar.gz", "1.2.0")
    assert publish(server, tmp_path / "a.tar.gz", "1.2.0").returncode == 0
    old_key = md(server, "1.root.json").signed.roles["root"].keyids[0]
    with run_reference_server(server) as running:
        first = updater(tmp_path / "client", running.url, root_bytes(server, 1))
        first.refresh()
        assert "root version 2" in ok("tuf", "rotate-root", str(server))
        v1, v2 = md(server, "1.root.json"), md(server, "2.root.json")
        new_key = v2.signed.roles["root"].keyids[0]
        assert new_key != old_key and set(v2.signatures) == {old_key, new_key}
        v1.verify_delegate("root", v2)  # what lets a v1 client accept v2
        v2.verify_delegate("root", v2)
        # A v2 signed by the new key alone would not be accepted by a client that trusts v1.
        alone = Metadata.from_bytes(v2.to_bytes())
        alone.signatures.pop(old_key)
        with pytest.raises(exceptions.UnsignedMetadataError):
            v1.verify_delegate("root", alone)
        # The old key is retired, kept apart; the profile now bootstraps new clients from v2.
        assert (server / "offline" / "retired" / f"root-{old_key}.pem").exists()
        assert not (server / "offline" / f"root-{old_key}.pem").exists()
        assert json.loads(profile_root(server))["signed"]["version"] == 2
        ok("tuf", "rotate-root", str(server))  # and once more: clients walk 1 → 2 → 3
        again = updater(tmp_path / "client", running.url, root_bytes(server, 1))
        again.refresh()
        cached = Metadata.from_file(str(tmp_path / "client" / "metadata" / "root.json"))
        assert cached.signed.version == 3
        [release] = json.loads(ok("release", "list", str(server), "--json"))
        assert again.get_targetinfo(release["target"]) is not None
        fresh = updater(tmp_path / "new-client", running.url, profile_root(server))
        fresh.refresh()


def test_rotate_online_revokes_the_old_timestamp_key(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    repo = TufRepository(server)
    old_ids = {r: md(server, "1.root.json").signed.roles[r].keyids[0] for r in ("targets", "snapshot", "timestamp")}
    with run_reference_server(server) as running:
        updater(tmp_path / "client", running.url, root_bytes(server)).refresh()
        out = ok("tuf", "rotate-online", str(server))
        v2 = md(server, "2.root.json")
        assert all(v2.signed.roles[r].keyids[0] != old_ids[r] for r in old_ids) and "root version 2" in out
        md(server, "1.root.json").verify_delegate("root", v2)
        for role, name in (("targets", "2.targets.json"), ("snapshot", "2.snapshot.json"),
                           ("timestamp", "timestamp.json")):
            v2.verify_delegate(role, md(server, name))  # re-signed with the new keys
        # The client follows the rotation.
        updater(tmp_path / "client", running.url, root_bytes(server)).refresh()
        old_pem = server / "keys" / "retired" / f"tuf-timestamp-{old_ids['timestamp']}.pem"
        old_signer = load_signer(old_pem, md(server, "1.root.json").signed.get_key(old_ids["timestamp"]))

        def forge(signers: list[CryptoSigner]) -> None:
            stamp = repo.load_timestamp()
            stamp.signed.version += 1
            repo.write(repo.sign(stamp, list(signers)))

        forge([old_signer])  # a timestamp from someone who kept the old key
        with pytest.raises(exceptions.UnsignedMetadataError):
            updater(tmp_path / "client", running.url, root_bytes(server)).refresh()
        forge(repo.signers("timestamp"))  # the control: the same change with the listed key is accepted
        updater(tmp_path / "client", running.url, root_bytes(server)).refresh()


def test_rotate_online_one_role_keeps_the_others(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    before = md(server, "1.root.json").signed.roles
    ok("tuf", "rotate-online", str(server), "--role", "snapshot")
    after = md(server, "2.root.json").signed.roles
    assert after["snapshot"].keyids != before["snapshot"].keyids
    assert after["targets"].keyids == before["targets"].keyids
    assert after["timestamp"].keyids == before["timestamp"].keyids
    assert after["root"].keyids == before["root"].keyids


def test_the_lock_keeps_a_second_writer_out(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    fd = os.open(server / "repository" / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = server_cli("tuf", "refresh", str(server), env={"CRYSTAL_SERVER_LOCK_TIMEOUT": "0.3"})
        assert proc.returncode == 3 and "busy" in proc.stderr
        with pytest.raises(RepoError, match="busy"), TufRepository(server).locked(timeout=0.2):
            pass
    finally:
        os.close(fd)
    assert md(server, "timestamp.json").signed.version == 1
    ok("tuf", "refresh", str(server))


def test_tuf_verbs_refuse_a_folder_without_a_repository(tmp_path: Path) -> None:
    proc = server_cli("tuf", "status", str(tmp_path))
    assert proc.returncode == 2 and "not a server folder" in proc.stderr
    server = init(tmp_path / "s")
    (server / "offline" / next((server / "offline").iterdir()).name).unlink()
    proc = server_cli("tuf", "rotate-root", str(server))
    assert proc.returncode == 3 and "private key" in proc.stderr and "missing" in proc.stderr


def test_detached_root_is_valid_and_its_keys_are_gone() -> None:
    data = detached_root()
    root = Metadata.from_dict(json.loads(json.dumps(data)))
    assert isinstance(root.signed, Root) and root.signed.version == 1
    root.verify_delegate("root", root)
    assert len({k for r in root.signed.roles.values() for k in r.keyids}) == 4


def test_the_production_root_is_valid_and_no_private_key_of_it_is_in_the_repository() -> None:
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.signer import SSlibKey

    from crystal_manager.config.profile import builtin_profile

    tuf_root = builtin_profile().tuf_root
    assert isinstance(tuf_root, dict)
    root = Metadata.from_bytes(json.dumps(tuf_root).encode())
    assert isinstance(root.signed, Root) and root.signed.consistent_snapshot is True
    root.verify_delegate("root", root)
    listed = {k for r in root.signed.roles.values() for k in r.keyids}
    assert len(listed) == 4
    repo_root = Path(__file__).resolve().parents[2]
    for pem in repo_root.rglob("*.pem"):
        if ".venv" in pem.parts or "PRIVATE KEY" not in pem.read_text(errors="replace"):
            continue
        private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
        assert SSlibKey.from_crypto(private.public_key()).keyid not in listed, pem


def test_refresh_heals_a_key_rotation_interrupted_before_the_roles_were_resigned(tmp_path: Path) -> None:
    from crystal_server.tuf_repo import new_signer

    server = init(tmp_path / "s")
    repo = TufRepository(server)
    assert repo.due() == []
    root = repo.load_root()  # what rotate-online does first, then "crashes"
    fresh = new_signer(repo.keys_dir, "tuf-timestamp")
    root.signed.revoke_key(root.signed.roles["timestamp"].keyids[0], "timestamp")
    root.signed.add_key(fresh.public_key, "timestamp")
    root.signed.version += 1
    repo.write(repo.sign(root, list(repo.signers("root"))))
    assert repo.due() == ["timestamp"]
    with repo.locked():
        assert repo.refresh() == ["timestamp"]
    md(server, "2.root.json").verify_delegate("timestamp", md(server, "timestamp.json"))
    assert repo.due() == []
