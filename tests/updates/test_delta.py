"""The client's patch code on real archives and real patches (built by the server's own code): which patch
is chosen, and every way a patch or its base can be wrong ends in PatchFailed with a reason, with nothing
half-written left behind. And the policy never offers a patch target as a release."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from crystal_manager.updates import entitlement
from crystal_manager.updates.delta import PatchFailed, PatchPlan, apply, choose, result_file
from crystal_manager.updates.download import SignedFile
from crystal_manager.updates.entitlement import LicenseFacts
from crystal_manager.updates.policy import Candidate, evaluate
from crystal_protocol.releases import (
    PRODUCT,
    PatchInfo,
    ReleaseFormatError,
    ReleaseInfo,
    current_platform,
    patch_target_name,
    target_name,
)
from crystal_server.deltas import build_patch, decompress_to
from tests.support.delta_bundles import build_release

PLATFORM = current_platform()
FULL = target_name(PRODUCT, "1.2.0", PLATFORM, ".tar.gz")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def made(tmp_path: Path) -> dict[str, object]:
    """1.1.0 kept as the client keeps it, 1.2.0's full archive, and the patch between them."""
    server = tmp_path / "server"
    base_archive = build_release("1.1.0", server / "base.tar.gz")
    full = build_release("1.2.0", server / "full.tar.gz")
    base_sha, base_len = decompress_to(base_archive, server / "base.tar")
    new_sha, new_len = decompress_to(full, server / "new.tar")
    patch = server / "patch"
    build_patch(server / "base.tar", server / "new.tar", patch)
    info = PatchInfo(product=PRODUCT, platform=PLATFORM, from_version="1.1.0", from_tar_sha256=base_sha,
                     from_tar_length=base_len, to_version="1.2.0", to_target=FULL, to_sha256=_sha(full),
                     to_length=full.stat().st_size, to_tar_sha256=new_sha, to_tar_length=new_len)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    kept = downloads / f"{_sha(base_archive)}.{target_name(PRODUCT, '1.1.0', PLATFORM, '.tar.gz')}"
    kept.write_bytes(base_archive.read_bytes())
    return {"info": info, "patch": patch, "kept": kept, "downloads": downloads, "full": full,
            "new_tar": server / "new.tar"}


def _targets(info: PatchInfo, patch: Path) -> list[tuple[str, int, str | None, object]]:
    name = patch_target_name(PRODUCT, info.from_version, info.to_version, PLATFORM, ".tar.gz")
    return [(name, patch.stat().st_size, _sha(patch), info.to_custom())]


def _plan(made: dict[str, object]) -> PatchPlan:
    info, patch = made["info"], made["patch"]
    assert isinstance(info, PatchInfo) and isinstance(patch, Path) and isinstance(made["kept"], Path)
    return PatchPlan(info=info, signed=SignedFile("p", "p", patch.stat().st_size, _sha(patch)), base=made["kept"])


def test_choose_takes_the_signed_patch_from_the_installed_version(made: dict[str, object]) -> None:
    info, patch, full, downloads = made["info"], made["patch"], made["full"], made["downloads"]
    assert isinstance(info, PatchInfo) and isinstance(patch, Path) and isinstance(full, Path)
    assert isinstance(downloads, Path)
    facts = {"full_name": FULL, "full_length": info.to_length, "full_sha256": info.to_sha256, "folder": downloads,
             "product": PRODUCT, "platform": PLATFORM}
    plan, why = choose(_targets(info, patch), installed="1.1.0", **facts)  # type: ignore[arg-type]
    assert plan is not None and why == "" and plan.base == made["kept"] and plan.signed.length == patch.stat().st_size
    assert choose(_targets(info, patch), installed="1.0.0", **facts) == (  # type: ignore[arg-type]
        None, "no patch from 1.0.0 is published")
    other = {**facts, "full_sha256": "0" * 64}  # a patch to another file of that name is not this release's
    assert choose(_targets(info, patch), installed="1.1.0", **other)[0] is None  # type: ignore[arg-type]
    small = {**facts, "full_length": patch.stat().st_size + 10}
    (name, length, sha, custom), = _targets(info, patch)
    custom = {**info.to_custom(), "to_length": small["full_length"]}
    assert choose([(name, length, sha, custom)], installed="1.1.0", **small) == (  # type: ignore[arg-type]
        None, "the patch from 1.1.0 is not much smaller than the full download")
    kept = made["kept"]
    assert isinstance(kept, Path)
    kept.unlink()
    assert choose(_targets(info, patch), installed="1.1.0", **facts)[1] == (  # type: ignore[arg-type]
        "the patch applies to the 1.1.0 download, which is not kept on this computer")


def test_apply_yields_the_signed_release(made: dict[str, object]) -> None:
    downloads, new_tar = made["downloads"], made["new_tar"]
    assert isinstance(downloads, Path) and isinstance(new_tar, Path) and isinstance(made["patch"], Path)
    result = apply(_plan(made), made["patch"], downloads)
    assert result == result_file(downloads, _plan(made).info) and result.read_bytes() == new_tar.read_bytes()


def _refused(made: dict[str, object], words: str, *, base_kept: bool = True) -> None:
    downloads, patch = made["downloads"], made["patch"]
    assert isinstance(downloads, Path) and isinstance(patch, Path)
    with pytest.raises(PatchFailed, match=words):
        apply(_plan(made), patch, downloads)
    names = sorted(p.name for p in downloads.iterdir())
    assert names == ([Path(str(made["kept"])).name] if base_kept else [])  # nothing half-written is left


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_base_changed_on_disk_is_refused_and_deleted(made: dict[str, object]) -> None:
    kept = made["kept"]
    assert isinstance(kept, Path)
    _flip(kept, kept.stat().st_size // 2)
    _refused(made, "the kept copy of 1.1.0 changed on disk", base_kept=False)


def test_a_missing_base_is_refused(made: dict[str, object]) -> None:
    Path(str(made["kept"])).unlink()
    _refused(made, "1.1.0 download the patch applies to is no longer kept", base_kept=False)


@pytest.mark.parametrize("where", ["frame", "header", "magic"])
def test_a_patch_changed_by_one_byte_is_refused(made: dict[str, object], where: str) -> None:
    patch = made["patch"]
    assert isinstance(patch, Path)
    _flip(patch, {"frame": patch.stat().st_size - 20, "header": 32, "magic": 0}[where])
    _refused(made, "damaged|not in a known format|does not match its signed hash|cut short")


def test_a_truncated_patch_is_refused(made: dict[str, object]) -> None:
    patch = made["patch"]
    assert isinstance(patch, Path)
    patch.write_bytes(patch.read_bytes()[:-100])
    _refused(made, "cut short|damaged")


def test_a_patch_for_another_base_does_not_pass_the_final_hash(made: dict[str, object]) -> None:
    # A patch made for another base, signed as if from 1.1.0: the base check passes (1.1.0 is genuine), the
    # result cannot: it is refused before anything could be extracted.
    patch, new_tar = made["patch"], made["new_tar"]
    assert isinstance(patch, Path) and isinstance(new_tar, Path)
    build_patch(new_tar, new_tar, patch)  # made for a base that already is 1.2.0: all references, no data
    _refused(made, "does not match its signed hash|damaged")


def test_the_policy_never_offers_a_patch_as_a_release(made: dict[str, object]) -> None:
    info, patch = made["info"], made["patch"]
    assert isinstance(info, PatchInfo) and isinstance(patch, Path)
    with pytest.raises(ReleaseFormatError):
        ReleaseInfo.from_custom(info.to_custom())
    (name, length, sha, custom), = _targets(info, patch)
    only_patch = [Candidate(name, length, sha, custom)]
    license = LicenseFacts(state="active", max_version=None, expires_at=None)
    common = {"installed": "1.1.0", "channel": "stable", "skipped": (), "manager_version": "9.0.0",
              "license": license, "checked_at": "2026-11-30T12:00:00Z", "platform": PLATFORM}
    assert evaluate(only_patch, **common).reason == "no_releases"  # type: ignore[arg-type]
    release = ReleaseInfo(product=PRODUCT, version="1.2.0", platform=PLATFORM, channel="stable",
                          released_at="2026-11-30T12:00:00Z")
    full = Candidate(FULL, info.to_length, info.to_sha256, release.to_custom())
    result = evaluate([*only_patch, full], **common)  # type: ignore[arg-type]
    assert result.offer is not None and result.offer.target_name == FULL
    assert entitlement.check(release, license).allowed


@pytest.mark.parametrize("change", [{"kind": "release"}, {"format": "bsdiff"}, {"to_version": "1.0.0"},
                                    {"to_target": "other-1.2.0-linux-x86_64.tar.gz"}, {"from_tar_sha256": "x"},
                                    {"to_tar_length": 0}])
def test_malformed_patch_facts_are_refused(made: dict[str, object], change: dict[str, object]) -> None:
    info = made["info"]
    assert isinstance(info, PatchInfo)
    with pytest.raises(ReleaseFormatError):
        PatchInfo.from_custom({**info.to_custom(), **change})


@pytest.mark.parametrize("frame", ["range past the base", "window too large", "output past the signed length",
                                   "too many ranges"])
def test_a_patch_reaching_outside_its_bounds_is_refused(made: dict[str, object], frame: str) -> None:
    import struct

    from crystal_protocol.releases import PATCH_FRAME, PATCH_MAGIC, PATCH_RANGE

    info, patch = made["info"], made["patch"]
    assert isinstance(info, PatchInfo) and isinstance(patch, Path)
    header = {
        "range past the base": struct.pack(PATCH_FRAME, 1000, 10, 1) + struct.pack(PATCH_RANGE,
                                                                                   info.from_tar_length - 5, 10),
        "window too large": struct.pack(PATCH_FRAME, 1 << 26, 10, 1) + struct.pack(PATCH_RANGE, 0, 1000),
        "output past the signed length": struct.pack(PATCH_FRAME, info.to_tar_length + 1, 10, 0),
        "too many ranges": struct.pack(PATCH_FRAME, 1000, 10, 2000) + struct.pack(PATCH_RANGE, 0, 1) * 2000,
    }[frame]
    patch.write_bytes(PATCH_MAGIC + header + b"x" * 10)
    _refused(made, "outside its bounds")


@pytest.mark.parametrize("name", ["../crystalme3d-pro-1.2.0-linux-x86_64.tar.gz", "*.tar.gz", "no-suffix", ""])
def test_names_that_are_not_plain_release_files_touch_nothing(tmp_path: Path, name: str) -> None:
    from crystal_manager.updates.delta import discard_for, kept_result, patch_progress

    folder = tmp_path / "downloads"
    folder.mkdir()
    outside = tmp_path / f"{'a' * 64}.crystalme3d-pro-1.2.0-linux-x86_64.tar"
    inside = folder / f"{'b' * 64}.crystalme3d-pro-1.2.0-linux-x86_64.tar"
    outside.write_bytes(b"x")
    inside.write_bytes(b"x")
    discard_for(folder, name, PRODUCT)  # a crafted state file's name: never a path or a pattern
    assert kept_result(folder, name) is None and patch_progress(folder, name, PRODUCT) is None
    assert outside.exists() and inside.exists()
