"""``crystal-server release``: publish (with its archive checks), list, yank — seen through python-tuf's
own client against the running server."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Targets

from crystal_protocol.releases import ReleaseInfo, current_platform
from crystal_server.demo_release import build_demo_archive
from tests.server.tuf_support import (
    PRODUCT,
    craft,
    demo_archive,
    entry,
    good_entries,
    init,
    ok,
    profile_root,
    publish,
    server_cli,
    updater,
)
from tests.support.servers import run_reference_server

PLATFORM = current_platform()


def target(version: str, suffix: str = ".tar.gz") -> str:
    return f"{PRODUCT}-{version}-{PLATFORM}{suffix}"


def test_publish_signs_a_target_that_the_tuf_client_downloads(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    archive = demo_archive(tmp_path / "in" / "cm-1.2.0.tar.gz", "1.2.0")
    notes = tmp_path / "notes.md"
    notes.write_text("# 1.2.0\n\n* Faster slicing\n", encoding="utf-8")
    proc = publish(server, archive, "1.2.0", "--notes", str(notes), "--critical", "--min-manager", "0.1.0",
                   "--released-at", "2026-11-30T12:00:00Z")
    assert proc.returncode == 0, proc.stderr
    data = archive.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    stored = server / "repository" / "targets" / f"{sha}.{target('1.2.0')}"
    assert stored.read_bytes() == data and f"as {target('1.2.0')}" in proc.stdout
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temporary file left
    # Versions bumped: targets 2, snapshot 2, timestamp 2.
    meta = server / "repository" / "metadata"
    assert {p.name for p in meta.iterdir()} >= {"2.targets.json", "2.snapshot.json"}
    with run_reference_server(server) as running:
        client = updater(tmp_path / "client", running.url, profile_root(server))
        client.refresh()
        info = client.get_targetinfo(target("1.2.0"))
        assert info is not None and info.length == len(data) and info.hashes == {"sha256": sha}
        release = ReleaseInfo.from_custom(info.custom)
        assert release == ReleaseInfo(product=PRODUCT, version="1.2.0", platform=PLATFORM, channel="stable",
                                      released_at="2026-11-30T12:00:00Z", notes="# 1.2.0\n\n* Faster slicing\n",
                                      min_manager="0.1.0", critical=True)
        path = client.download_target(info)
        assert Path(path).read_bytes() == data
        assert client.get_targetinfo(target("9.9.9")) is None


def test_list_shows_each_release_with_its_facts(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    for version, suffix, extra in (("1.2.0", ".tar.gz", ()), ("1.10.0", ".tar.zst", ("--channel", "beta")),
                                   ("1.1.0", ".tar", ("--critical",)), ("1.3.0", ".tgz", ())):
        archive = demo_archive(tmp_path / f"a-{version}{suffix}", version)
        proc = publish(server, archive, version, "--released-at", "2026-11-30T10:00:00+01:00", *extra)
        assert proc.returncode == 0, proc.stderr
    lines = ok("release", "list", str(server)).splitlines()
    assert [line.split()[1] for line in lines] == ["1.1.0", "1.2.0", "1.3.0", "1.10.0"]  # by version, not text
    assert lines[0].split()[2:] == [PLATFORM, "stable", str((tmp_path / "a-1.1.0.tar").stat().st_size),
                                    "2026-11-30T09:00:00Z", "critical"]
    listed = json.loads(ok("release", "list", str(server), "--json"))
    beta = listed[3]
    data = (tmp_path / "a-1.10.0.tar.zst").read_bytes()
    assert beta == {"product": PRODUCT, "version": "1.10.0", "platform": PLATFORM, "channel": "beta",
                    "size": len(data), "released_at": "2026-11-30T09:00:00Z", "critical": False,
                    "min_manager": None, "target": target("1.10.0", ".tar.zst"),
                    "sha256": hashlib.sha256(data).hexdigest(), "length": len(data), "patches": []}
    targets = Metadata[Targets].from_file(str(server / "repository" / "metadata" / "5.targets.json"))
    patches = [p["target"] for r in listed for p in r["patches"]]  # built at publish (tests/server/test_deltas.py)
    assert sorted(targets.signed.targets) == sorted([r["target"] for r in listed] + patches)


def test_publishing_the_same_version_twice_is_refused(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    archive = demo_archive(tmp_path / "a.tar.gz", "1.2.0")
    assert publish(server, archive, "1.2.0").returncode == 0
    again = demo_archive(tmp_path / "b.tar.zst", "1.2.0")  # other bytes, same release
    proc = publish(server, again, "1.2.0")
    assert proc.returncode == 3 and "already published" in proc.stderr
    assert len(json.loads(ok("release", "list", str(server), "--json"))) == 1


def _bad(tmp_path: Path, name: str, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    return craft(tmp_path / f"{name}.tar.gz", entries)


def _refusals(tmp_path: Path) -> list[tuple[str, Path, tuple[str, ...], str]]:
    good = good_entries()
    link = tarfile.SYMTYPE
    return [
        ("product", build_demo_archive("1.2.0", tmp_path / "p.tar.gz", product="other-product"), (),
         "says product 'other-product', not 'crystalme3d-pro'"),
        ("version", demo_archive(tmp_path / "v.tar.gz", "1.2.1"), (), "says version '1.2.1', not '1.2.0'"),
        ("platform", demo_archive(tmp_path / "pl.tar.gz", "1.2.0"), ("--platform", "plan9-mips"),
         "says platform"),
        ("absolute", _bad(tmp_path, "abs", [*good, entry("/etc/evil", b"x")]), (), "absolute path: '/etc/evil'"),
        ("dotdot", _bad(tmp_path, "dots", [*good, entry("bin/../../evil", b"x")]), (), "path with '..'"),
        ("symlink out", _bad(tmp_path, "sym", [*good, entry("bin/x", kind=link, link="../../etc/passwd")]), (),
         "link out of the product folder"),
        ("symlink absolute", _bad(tmp_path, "syma", [*good, entry("bin/x", kind=link, link="/etc/passwd")]), (),
         "link to an absolute path"),
        ("hardlink out", _bad(tmp_path, "hard", [*good, entry("x", kind=tarfile.LNKTYPE, link="../outside")]),
         (), "link out of the product folder"),
        ("device", _bad(tmp_path, "dev", [*good, entry("null", kind=tarfile.CHRTYPE)]), (),
         "device or special file: 'null'"),
        ("fifo", _bad(tmp_path, "fifo", [*good, entry("pipe", kind=tarfile.FIFOTYPE)]), (),
         "device or special file"),
        ("no manifest", _bad(tmp_path, "none", good[1:]), (), "no product.json at its root"),
        ("manifest twice", _bad(tmp_path, "twice", [*good, good[0]]), (), "holds product.json twice"),
        ("no program", _bad(tmp_path, "noprog", good[:1]), (), "health check program 'bin/crystalme3d'"),
        ("not json", _bad(tmp_path, "nojson", [entry("product.json", b"{"), *good[1:]]), (), "not JSON"),
        ("bad manifest", _bad(tmp_path, "badman", [entry("product.json", b'{"product": 1}'), *good[1:]]), (),
         "product.json"),
    ]


def test_publish_refuses_bad_archives_with_one_line_each_and_changes_nothing(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    stamp = server / "repository" / "metadata" / "timestamp.json"
    before = stamp.read_bytes()
    for label, archive, extra, message in _refusals(tmp_path):
        proc = publish(server, archive, "1.2.0", *extra)
        assert proc.returncode == 2, (label, proc.stderr)
        assert message in proc.stderr, (label, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("crystal-server: "), (label, proc.stderr)
    assert stamp.read_bytes() == before
    assert list((server / "repository" / "targets").iterdir()) == []
    # The control: the good members alone are published.
    assert publish(server, craft(tmp_path / "good.tar.gz", good_entries()), "1.2.0").returncode == 0


@pytest.mark.parametrize(("name", "content", "message"), [
    ("r.zip", b"PK\x03\x04", "not a release archive"),
    ("r.tar.gz", b"not gzip at all", "r.tar.gz: not a readable tar archive"),
    ("r.tar.zst", b"not zstd at all", "r.tar.zst: not a readable"),
    ("r.tar", b"x" * 700, "r.tar: not a readable tar archive"),
])
def test_publish_refuses_files_that_are_not_archives(tmp_path: Path, name: str, content: bytes,
                                                     message: str) -> None:
    server = init(tmp_path / "s")
    (tmp_path / name).write_bytes(content)
    proc = publish(server, tmp_path / name, "1.2.0")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


@pytest.mark.parametrize(("extra", "message"), [
    (("--channel", "nightly"), "unknown channel 'nightly'"),
    (("--min-manager", "one"), "not a version"),
    (("--released-at", "yesterday"), "not a date and time"),
])
def test_publish_refuses_bad_arguments(tmp_path: Path, extra: tuple[str, ...], message: str) -> None:
    server = init(tmp_path / "s")
    archive = demo_archive(tmp_path / "a.tar.gz", "1.2.0")
    proc = publish(server, archive, "1.2.0", *extra)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    missing = publish(server, tmp_path / "gone.tar.gz", "1.2.0")
    assert missing.returncode == 2 and "no archive file" in missing.stderr


def test_yank_takes_a_release_out_of_what_clients_see(tmp_path: Path) -> None:
    server = init(tmp_path / "s")
    for version in ("1.2.0", "1.3.0"):
        assert publish(server, demo_archive(tmp_path / f"{version}.tar.gz", version), version).returncode == 0
    with run_reference_server(server) as running:
        seen = updater(tmp_path / "c1", running.url, profile_root(server))
        seen.refresh()
        assert seen.get_targetinfo(target("1.3.0")) is not None
        proc = server_cli("release", "yank", str(server), "--product", PRODUCT, "--version", "1.3.0")
        assert proc.returncode == 0, proc.stderr
        assert "no longer offered" in proc.stdout and "file stays" in proc.stdout
        after = updater(tmp_path / "c1", running.url, profile_root(server))  # same cache: an update
        after.refresh()
        assert after.get_targetinfo(target("1.3.0")) is None
        assert after.get_targetinfo(target("1.2.0")) is not None
    assert [r["version"] for r in json.loads(ok("release", "list", str(server), "--json"))] == ["1.2.0"]
    again = publish(server, demo_archive(tmp_path / "re.tar.zst", "1.3.0"), "1.3.0")
    assert again.returncode == 3 and "was yanked" in again.stderr
    missing = server_cli("release", "yank", str(server), "--product", PRODUCT, "--version", "1.3.0")
    assert missing.returncode == 2 and "no published release" in missing.stderr


def test_demo_archive_runs_its_health_check_and_the_broken_one_fails(tmp_path: Path) -> None:
    for broken in (False, True):
        archive = build_demo_archive("2.0.1", tmp_path / f"d{broken}.tar.zst", broken=broken)
        with tarfile.open(fileobj=__import__("zstandard").ZstdDecompressor().stream_reader(archive.open("rb")),
                          mode="r|") as tar:
            tar.extractall(tmp_path / f"x{broken}", filter="data")
        manifest = json.loads((tmp_path / f"x{broken}" / "product.json").read_text())
        assert manifest == {"product": PRODUCT, "version": "2.0.1", "platform": PLATFORM,
                            "health_check": ["bin/crystalme3d", "--version"]}
        proc = subprocess.run([str(tmp_path / f"x{broken}" / "bin" / "crystalme3d"), "--version"],
                              capture_output=True, text=True, check=False)
        assert (proc.returncode, proc.stdout) == ((1, "") if broken else (0, "CrystalMe3D Pro 2.0.1\n"))
    same = [build_demo_archive("2.0.1", tmp_path / f"r{i}.tar.gz").read_bytes() for i in range(2)]
    assert same[0] == same[1]  # reproducible: one version, one set of bytes
    proc = server_cli("release", "demo-archive", str(tmp_path / "bad.tar.gz"), "--version", "two")
    assert proc.returncode == 2 and "not a version" in proc.stderr
