"""Release archives: read and extracted as real tar files (plain, gzip, zstd); every unsafe member refused
before anything lands outside the destination."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from crystal_manager.updates.archive import extract_archive, read_manifest
from crystal_manager.updates.errors import ArchiveRejected
from tests.support.product_archives import (
    Compression,
    build_release,
    file_member,
    product_members,
    special_member,
    tree_snapshot,
    write_archive,
)


@pytest.mark.parametrize("compression", ["", "gz", "zst"])
def test_manifest_and_extraction_for_each_compression(tmp_path: Path, compression: Compression) -> None:
    archive = build_release(tmp_path, "1.2.0", compression=compression)
    assert read_manifest(archive).version == "1.2.0"
    dest = tmp_path / "out"
    manifest = extract_archive(archive, dest)
    assert manifest.version == "1.2.0" and manifest.health_check == ("bin/crystalme3d", "--version")
    assert os.access(dest / "bin" / "crystalme3d", os.X_OK)
    assert os.readlink(dest / "share" / "readme-link") == "README.txt"
    assert (dest / "share" / "readme-link").read_text().startswith("CrystalMe3D Pro 1.2.0")


def test_destination_must_be_new(tmp_path: Path) -> None:
    archive = build_release(tmp_path, "1.2.0")
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        extract_archive(archive, tmp_path / "out")


ATTACKS = {
    "absolute path": file_member("/tmp/evil", b"x"),
    "dot-dot": file_member("../evil", b"x"),
    "dot-dot inside": file_member("bin/../../evil", b"x"),
    "symlink absolute": special_member("bin/evil", tarfile.SYMTYPE, "/etc/passwd"),
    "symlink escaping": special_member("bin/evil", tarfile.SYMTYPE, "../../outside"),
    "hardlink absolute": special_member("bin/evil", tarfile.LNKTYPE, "/etc/passwd"),
    "hardlink escaping": special_member("bin/evil", tarfile.LNKTYPE, "../outside"),
    "hardlink to nothing": special_member("bin/evil", tarfile.LNKTYPE, "not/in/archive"),
    "char device": special_member("dev-null", tarfile.CHRTYPE),
    "block device": special_member("dev-sda", tarfile.BLKTYPE),
    "fifo": special_member("pipe", tarfile.FIFOTYPE),
    "duplicate": file_member("bin/crystalme3d", b"#!/bin/sh\necho replaced\n", 0o755),
    "backslash": file_member("..\\evil", b"x"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_unsafe_members_are_refused_and_nothing_escapes(tmp_path: Path, attack: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "outside").write_text("untouched")
    archive = write_archive(tmp_path / "evil.tar.gz", [*product_members("1.2.0"), ATTACKS[attack]])
    before = tree_snapshot(tmp_path)
    with pytest.raises(ArchiveRejected) as caught:
        extract_archive(archive, work / "dest")
    assert "\n" not in str(caught.value) and str(caught.value)
    after = {k: v for k, v in tree_snapshot(tmp_path).items() if not k.startswith("work/dest")}
    assert after == before
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()


def test_hardlink_to_a_member_inside_is_allowed(tmp_path: Path) -> None:
    members = [*product_members("1.2.0"), special_member("bin/alias", tarfile.LNKTYPE, "bin/crystalme3d")]
    dest = tmp_path / "dest"
    extract_archive(write_archive(tmp_path / "ok.tar", members, ""), dest)
    assert (dest / "bin" / "alias").read_bytes() == (dest / "bin" / "crystalme3d").read_bytes()


def test_data_filter_strips_setuid_and_write_for_others(tmp_path: Path) -> None:
    members = [*product_members("1.2.0"), file_member("bin/helper", b"#!/bin/sh\n", 0o6777)]
    dest = tmp_path / "dest"
    extract_archive(write_archive(tmp_path / "modes.tar.gz", members), dest)
    mode = (dest / "bin" / "helper").stat().st_mode & 0o7777
    assert mode & 0o6000 == 0 and mode & 0o022 == 0


@pytest.mark.parametrize(("members", "words"), [
    ([file_member("bin/x", b"x")], "no product.json"),
    ([file_member("product.json", b"{not json")], "not valid JSON"),
    ([file_member("product.json", b'{"product": "crystalme3d-pro"}')], "health_check"),
    ([special_member("product.json", tarfile.SYMTYPE, "bin/x")], "product.json"),
])
def test_missing_or_bad_manifest(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]], words: str) -> None:
    archive = write_archive(tmp_path / "bad.tar.gz", members)
    with pytest.raises(ArchiveRejected, match=words):
        read_manifest(archive)
    with pytest.raises(ArchiveRejected, match=words):
        extract_archive(archive, tmp_path / "dest")


@pytest.mark.parametrize("content", [b"", b"plain text, not an archive" * 40, b"\x1f\x8b\x08\x00garbage",
                                     b"\x28\xb5\x2f\xfdgarbage"])
def test_not_an_archive(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "junk.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(ArchiveRejected):
        read_manifest(archive)
    with pytest.raises(ArchiveRejected):
        extract_archive(archive, tmp_path / "dest")


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_truncated_archive_is_refused(tmp_path: Path, compression: Compression) -> None:
    members = [*product_members("1.2.0"), file_member("share/big.bin", os.urandom(200_000))]
    archive = write_archive(tmp_path / "whole", members, compression)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ArchiveRejected, match="damaged"):
        extract_archive(archive, tmp_path / "dest")
