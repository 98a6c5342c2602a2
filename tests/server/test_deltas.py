"""Patches built by ``crystal-server release publish`` (crystal_server/deltas.py) and applied by the client's
own code (crystal_manager/updates/delta.py): each yields the signed release byte for byte. A property test
round-trips random bundles with random edits through create → apply."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crystal_manager.updates.delta import PatchPlan, apply
from crystal_manager.updates.download import SignedFile
from crystal_protocol.releases import PRODUCT, PatchInfo
from crystal_server.deltas import build_patch, decompress_to
from crystal_server.release_cli import open_repo
from crystal_server.releases import list_releases
from tests.support.delta_bundles import publish_release
from tests.support.servers import ReferenceServer


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plan(info: PatchInfo, base: Path) -> PatchPlan:
    return PatchPlan(info=info, signed=SignedFile("p", "p", 1, "0" * 64), base=base)


def test_publish_builds_a_patch_from_each_of_the_last_three_releases(reference_server: ReferenceServer,
                                                                      tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0", "1.2.0", "1.3.0"):
        publish_release(reference_server, version)
    out = publish_release(reference_server, "1.4.0")
    assert out.count("patch from ") == 3 and "1.0.0" not in out
    repo = open_repo(reference_server.data_dir)
    releases = {r.info.version: r for r in list_releases(repo)}
    assert set(releases) == {"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"}  # patches are never listed as releases
    newest = releases["1.4.0"]
    assert [p.info.from_version for p in newest.patches] == ["1.1.0", "1.2.0", "1.3.0"]
    full_tar = tmp_path / "full.tar"
    full_sha, full_length = decompress_to(repo.targets_dir / newest.file_name, full_tar)
    for patch in newest.patches:
        info = patch.info
        assert patch.target == f"{PRODUCT}-{info.from_version}-to-1.4.0-{info.platform}.tar.gz-patch"
        assert (info.to_target, info.to_sha256, info.to_length) == (newest.target, newest.sha256, newest.length)
        assert (info.to_tar_sha256, info.to_tar_length) == (full_sha, full_length)
        assert patch.length < newest.length / 10  # the releases share almost every byte
        stored = repo.targets_dir / f"{patch.sha256}.{patch.target}"
        assert _sha(stored) == patch.sha256 and stored.stat().st_size == patch.length
        folder = tmp_path / info.from_version
        folder.mkdir()
        base = repo.targets_dir / releases[info.from_version].file_name  # the base as the client keeps it
        result = apply(_plan(info, base), stored, folder)
        assert result.read_bytes() == full_tar.read_bytes()
        assert [p.name for p in folder.iterdir()] == [result.name]  # no temporary file left behind
    listed = json.loads(reference_server.admin("release", "list", str(reference_server.data_dir), "--json").stdout)
    assert [p["from_version"] for p in listed[-1]["patches"]] == ["1.1.0", "1.2.0", "1.3.0"]
    text = reference_server.admin("release", "list", str(reference_server.data_dir)).stdout
    lines = text.splitlines()
    assert len(lines) == 5 and "patches from" not in lines[0]  # one line per release, its patches on it
    assert lines[-1].endswith(" · patches from " + ", ".join(f"{p.info.from_version} ({p.length} bytes)"
                                                              for p in newest.patches))


def test_no_patches_on_request_and_yank_takes_them_back(reference_server: ReferenceServer) -> None:
    publish_release(reference_server, "1.0.0")
    assert "patch from" not in publish_release(reference_server, "1.1.0", patches=0)
    publish_release(reference_server, "1.2.0", patches=1)
    repo = open_repo(reference_server.data_dir)
    (patch,) = {r.info.version: r for r in list_releases(repo)}["1.2.0"].patches
    assert patch.info.from_version == "1.1.0"
    bad = reference_server.admin("release", "publish", str(reference_server.data_dir), "x.tar.gz", "--product",
                                 PRODUCT, "--version", "1.3.0", "--patches", "-1")
    assert bad.returncode == 2
    proc = reference_server.admin("release", "yank", str(reference_server.data_dir), "--product", PRODUCT,
                                  "--version", "1.2.0")
    assert proc.returncode == 0, proc.stderr
    assert patch.target not in repo.load_targets().signed.targets  # nothing leads to a release taken back


def _tar(files: dict[str, bytes], path: Path) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_767_225_600
            tar.addfile(info, io.BytesIO(data))
    return path


_names = st.text(alphabet="abcdefgh", min_size=1, max_size=6)
_edits = st.lists(st.tuples(st.sampled_from(["change", "insert", "delete", "add", "remove"]),
                            st.integers(0, 10**6), st.binary(max_size=300)), max_size=8)


@settings(max_examples=40, deadline=None)
@given(files=st.dictionaries(_names, st.binary(max_size=5000), min_size=1, max_size=8), edits=_edits,
       seed=st.integers(0, 2**32 - 1))
def test_random_bundles_with_random_edits_round_trip(files: dict[str, bytes], edits: list[tuple[str, int, bytes]],
                                                     seed: int) -> None:
    rng = random.Random(seed)
    files = {name: data + rng.randbytes(rng.randrange(20_000)) for name, data in files.items()}
    changed = dict(files)
    for kind, at, data in edits:
        name = sorted(changed)[at % len(changed)] if changed else None
        if kind == "add" or name is None:
            changed[f"new-{at}"] = data
        elif kind == "remove":
            del changed[name]
        else:
            body = changed[name]
            cut = at % (len(body) + 1)
            changed[name] = (body[:cut] + data + body[cut + len(data):] if kind == "change"
                             else body[:cut] + data + body[cut:] if kind == "insert" else body[:cut] + body[cut + 50:])
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        base, new = _tar(files, folder / "base.tar"), _tar(changed, folder / "new.tar")
        # Small segments, so frames split files and the per-frame base ranges are exercised too.
        build_patch(base, new, folder / "patch", segment=rng.choice([4096, 10_000, 1 << 20]))
        info = PatchInfo(product=PRODUCT, platform="linux-x86_64", from_version="1.0.0",
                         from_tar_sha256=_sha(base), from_tar_length=base.stat().st_size, to_version="1.1.0",
                         to_target=f"{PRODUCT}-1.1.0-linux-x86_64.tar", to_sha256="1" * 64, to_length=1,
                         to_tar_sha256=_sha(new), to_tar_length=new.stat().st_size)
        out = folder / "out"
        out.mkdir()
        assert apply(_plan(info, base), folder / "patch", out).read_bytes() == new.read_bytes()
