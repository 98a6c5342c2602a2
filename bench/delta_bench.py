"""P5: delta updates on a bundle shaped like a desktop 3D program (issue 12).

A synthetic release (many small files, a few large binaries, some already-compressed assets) and a minor
release changing about 1 % of it. Measured, each step in its own process (peak RSS per step):

- zstd-segments (what ships, crystal_server/deltas.py): patch size vs the full .tar.zst, creation time and
  peak RSS, apply + verify time and peak RSS (crystal_manager/updates/delta.py, base kept as .tar.zst);
- the full archive downloaded over loopback HTTP (hashed while streaming) and extracted, for comparison;
- bsdiff4 and zstd with the whole base as one prefix (``--patch-from``-like) on the same bundle, unless
  ``--compare-mb`` caps them to a smaller bundle (bsdiff4 needs ~17 bytes of memory per base byte).

    .venv/bin/python bench/delta_bench.py --mb 400 [--compare-mb 64] [--dir /tmp/delta-bench]

Goals: patch ≤ 5 % of the full archive; creation ≤ 60 s and ≤ 1 GiB; apply + verify ≤ 1x download + extract.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Report, add_arguments  # noqa: E402

# -- the bundle ------------------------------------------------------------------------------------------------

def _binary(rng: random.Random, size: int) -> bytes:
    """Machine-code-like bytes: compressible about 2:1 (repeated instruction-ish runs between random ones)."""
    out = bytearray()
    motifs = [rng.randbytes(rng.randint(8, 64)) for _ in range(256)]
    while len(out) < size:
        out += rng.randbytes(rng.randint(16, 256)) if rng.random() < 0.45 else motifs[rng.randrange(256)] * 4
    return bytes(out[:size])


def _text(rng: random.Random, size: int) -> bytes:
    words = [b"vertex", b"mesh", b"shader", b"normal", b"uv", b"bone", b"frame", b"light", b"=", b";", b"{", b"}"]
    parts: list[bytes] = []
    count = 0
    while count < size:
        word = words[rng.randrange(len(words))] + str(rng.randrange(1000)).encode() + b" "
        parts.append(word)
        count += len(word)
    return b"".join(parts)[:size]


def bundle_files(total: int, seed: int = 7) -> list[tuple[str, bytes | tuple[int, int]]]:
    """The base release: (name, bytes) for small files, (name, (seed, size)) for large ones (made on demand)."""
    rng = random.Random(seed)
    files: list[tuple[str, bytes | tuple[int, int]]] = []
    small_budget = total * 20 // 100
    used = 0
    index = 0
    while used < small_budget:  # many small files: scripts, presets, shaders, translations, icons
        size = int(rng.expovariate(1 / 12_000)) + 200
        kind = rng.random()
        name = f"share/{['scripts', 'presets', 'shaders', 'i18n', 'icons'][index % 5]}/f{index:05d}"
        data = _text(rng, size) if kind < 0.7 else rng.randbytes(size)
        files.append((name + (".txt" if kind < 0.7 else ".png"), data))
        used += size
        index += 1
    for number, share in enumerate((25, 15, 10)):  # a few large binaries (libraries, the main program)
        files.append((f"lib/libcrystal{number}.so", (seed * 100 + number, total * share // 100)))
    for number in range(6):  # already-compressed assets (textures, sample scenes): 30 %
        files.append((f"assets/pack{number}.zst", (seed * 1000 + number, total * 5 // 100)))
    return files


def _content(spec: bytes | tuple[int, int], name: str) -> bytes:
    if isinstance(spec, bytes):
        return spec
    seed, size = spec
    rng = random.Random(seed)
    return rng.randbytes(size) if name.startswith("assets/") else _binary(rng, size)


def minor_release(files: list[tuple[str, bytes | tuple[int, int]]], total: int, seed: int = 11) -> Any:
    """About 1 % changed: some small files edited, added, removed; byte edits and a small insertion in the
    binaries; one compressed asset partly re-encoded."""
    rng = random.Random(seed)
    budget = total // 100
    changes: dict[str, Any] = {}
    smalls = [i for i, (_n, s) in enumerate(files) if isinstance(s, bytes)]
    for i in rng.sample(smalls, len(smalls) // 100):  # 1 % of the small files edited
        name, data = files[i]
        assert isinstance(data, bytes)
        cut = rng.randrange(len(data))
        changes[name] = data[:cut] + rng.randbytes(min(200, budget // 50)) + data[cut:]
    return changes, rng, budget


def write_release(files: list[tuple[str, bytes | tuple[int, int]]], out: Path, version: str, *,
                  changes: dict[str, Any] | None = None, rng: random.Random | None = None, budget: int = 0) -> None:
    """An uncompressed release tar (product.json first, then the files in order)."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_767_225_600, 0o644
            tar.addfile(info, io.BytesIO(data))

        manifest = {"product": "crystalme3d-pro", "version": version, "platform": "linux-x86_64",
                    "health_check": ["bin/crystalme3d", "--version"]}
        add("product.json", json.dumps(manifest).encode())
        add("bin/crystalme3d", f"#!/bin/sh\necho {version}\n".encode())
        for position, (name, spec) in enumerate(files):
            if changes is not None and rng is not None and position % 97 == 50 and isinstance(spec, bytes):
                continue  # a small file removed in the minor release
            data = changes.get(name, _content(spec, name)) if changes is not None else _content(spec, name)
            if changes is not None and rng is not None and not isinstance(spec, bytes):
                data = _edit_large(data, name, rng, budget)
            add(name, data)
        if changes is not None and rng is not None:
            for number in range(5):  # new files in the minor release
                add(f"share/scripts/new{number}.txt", _text(rng, 4000))


def _edit_large(data: bytes, name: str, rng: random.Random, budget: int) -> bytes:
    buf = bytearray(data)
    if name.startswith("assets/pack0"):  # one texture pack re-encoded in part
        start = rng.randrange(len(buf) // 2)
        buf[start:start + budget // 4] = rng.randbytes(budget // 4)
        return bytes(buf)
    if name.startswith("lib/"):  # a rebuilt library: scattered small changes and one inserted function
        for _ in range(40):
            at = rng.randrange(len(buf) - 64)
            buf[at:at + 16] = rng.randbytes(16)
        at = rng.randrange(len(buf))
        buf[at:at] = rng.randbytes(budget // 20)
    return bytes(buf)


# -- steps (each in its own process) ---------------------------------------------------------------------------

def _peak_mib() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (the bundle maker's memory).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step(name: str, args: list[str]) -> dict[str, Any]:
    """Run one measured step in a fresh process; its JSON result."""
    proc = subprocess.run([sys.executable, __file__, "--step", name, *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"step {name} failed:\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _run_step(name: str, args: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if name == "segments":
        from crystal_server.deltas import LEVEL, build_patch

        result["size"] = build_patch(Path(args[0]), Path(args[1]), Path(args[2]), level=int(args[3] or LEVEL))
    elif name == "apply":
        from crystal_manager.updates.delta import PatchPlan, apply
        from crystal_manager.updates.download import SignedFile
        from crystal_protocol.releases import PatchInfo

        facts = json.loads(args[0])
        info = PatchInfo(**facts["info"])
        plan = PatchPlan(info=info, signed=SignedFile("p", "p", 0, "0" * 64), base=Path(facts["base"]))
        apply(plan, Path(facts["patch"]), Path(facts["folder"]))
    elif name == "prefix":  # one frame, the whole base as prefix: like zstd --patch-from --long
        import zstandard

        base = Path(args[0]).read_bytes()
        dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        del base
        size = Path(args[1]).stat().st_size
        window = max(size, Path(args[0]).stat().st_size).bit_length() + 1
        params = zstandard.ZstdCompressionParameters.from_level(int(args[3] or 3), window_log=min(window, 31),
                                                                enable_ldm=True)
        with open(args[1], "rb") as src, open(args[2], "wb") as out:
            zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params).copy_stream(src, out, size=size)
        result["size"] = Path(args[2]).stat().st_size
    elif name == "cli":  # the zstd program itself: --patch-from with long-distance matching
        window = max(Path(args[0]).stat().st_size, Path(args[1]).stat().st_size).bit_length()
        subprocess.run(["zstd", "-q", "-f", "-3", f"--long={min(window, 30)}", f"--patch-from={args[0]}", args[1],
                        "-o", args[2]], check=True)
        result["size"] = Path(args[2]).stat().st_size
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        result["seconds"] = time.perf_counter() - started
        return result
    elif name == "bsdiff":
        import bsdiff4  # type: ignore[import-untyped,import-not-found,unused-ignore]  # measured only; not a dependency

        patch = bsdiff4.diff(Path(args[0]).read_bytes(), Path(args[1]).read_bytes())
        result["size"] = len(patch)
        result["create_s"] = time.perf_counter() - started
        applied = bsdiff4.patch(Path(args[0]).read_bytes(), patch)
        result["ok"] = applied == Path(args[1]).read_bytes()
    elif name == "full":  # download over loopback HTTP, hashing while streaming, then extract (like install)
        import httpx
        import zstandard

        digest = hashlib.sha256()
        fetched = Path(args[1])
        with httpx.stream("GET", args[0]) as response, open(fetched, "wb") as sink:
            for chunk in response.iter_raw():
                digest.update(chunk)
                sink.write(chunk)
        result["download_s"] = time.perf_counter() - started
        target = Path(args[2])
        with open(fetched, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as source, \
                tarfile.open(fileobj=source, mode="r|") as tar:
            tar.extractall(target, filter="data")
    result["seconds"] = time.perf_counter() - started
    result["peak_mib"] = _peak_mib()
    return result


# -- the run ---------------------------------------------------------------------------------------------------

def _zstd_archive(tar: Path, out: Path) -> None:
    import zstandard

    with open(tar, "rb") as src, open(out, "wb") as sink:
        zstandard.ZstdCompressor(level=3, threads=-1).copy_stream(src, sink)


def _sha(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest(), path.stat().st_size


def make_pair(folder: Path, megabytes: int) -> tuple[Path, Path]:
    """base.tar and new.tar of a bundle of about ``megabytes`` MB."""
    total = megabytes * 1_000_000
    files = bundle_files(total)
    base, new = folder / f"base-{megabytes}.tar", folder / f"new-{megabytes}.tar"
    if not base.exists():
        write_release(files, base, "1.1.0")
        changes, rng, budget = minor_release(files, total)
        write_release(files, new, "1.2.0", changes=changes, rng=rng, budget=budget)
    return base, new


def _serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for the loop's next poll: 50 ms, not the default 0.5 s, once the download is done
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=400)
    parser.add_argument("--compare-mb", type=int, default=64, help="bundle size for bsdiff4 and whole-prefix zstd")
    parser.add_argument("--level", default="", help="zstd level of the segments (default: what ships)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/delta-bench"))
    parser.add_argument("--step", help=argparse.SUPPRESS)
    add_arguments(parser)
    args, rest = parser.parse_known_args()
    if args.step:
        print(json.dumps(_run_step(args.step, rest)))
        return 0
    if args.smoke:  # a small bundle, no other methods: the steps run, the figures mean little
        args.mb, args.compare_mb = 8, 0
        if args.dir == parser.get_default("dir"):
            args.dir = Path(tempfile.mkdtemp(prefix="delta-bench-smoke-"))
    folder = args.dir
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    base, new = make_pair(folder, args.mb)
    print(f"bundles of {args.mb} MB made in {time.perf_counter() - started:.1f} s", flush=True)
    base_zst, new_zst = folder / "base.tar.zst", folder / "new.tar.zst"
    _zstd_archive(base, base_zst)
    _zstd_archive(new, new_zst)
    full = new_zst.stat().st_size
    patch = folder / "patch"
    made = step("segments", [str(base), str(new), str(patch), args.level])
    (bsha, blen), (nsha, nlen) = _sha(base), _sha(new)
    work = folder / "client"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    kept = work / "kept.tar.zst"
    shutil.copy(base_zst, kept)
    info = {"product": "crystalme3d-pro", "platform": "linux-x86_64", "from_version": "1.1.0",
            "from_tar_sha256": bsha, "from_tar_length": blen, "to_version": "1.2.0",
            "to_target": "crystalme3d-pro-1.2.0-linux-x86_64.tar.zst", "to_sha256": _sha(new_zst)[0],
            "to_length": full, "to_tar_sha256": nsha, "to_tar_length": nlen}
    applied = step("apply", [json.dumps({"info": info, "base": str(kept), "patch": str(patch), "folder": str(work)})])
    server, url = _serve(folder)
    try:
        fetched = step("full", [f"{url}/new.tar.zst", str(work / "full.tar.zst"), str(work / "extracted")])
    finally:
        server.shutdown()
    shutil.rmtree(work / "extracted", ignore_errors=True)
    report: dict[str, Any] = {
        "bundle_mb": round(nlen / 1e6, 1), "full_archive_mb": round(full / 1e6, 1),
        "segments": {"patch_kb": round(made["size"] / 1e3, 1), "share_of_full": round(made["size"] / full, 4),
                     "create_s": round(made["seconds"], 2), "create_peak_mib": round(made["peak_mib"]),
                     "apply_verify_s": round(applied["seconds"], 2), "apply_peak_mib": round(applied["peak_mib"])},
        "full_download_extract_s": round(fetched["seconds"], 2), "full_download_s": round(fetched["download_s"], 2),
    }
    report["apply_vs_full"] = round(applied["seconds"] / fetched["seconds"], 2)
    cbase, cnew = make_pair(folder, args.compare_mb) if args.compare_mb not in (0, args.mb) else (base, new)
    compare: dict[str, Any] = {"bundle_mb": args.compare_mb}
    for name, label in (("segments", "zstd_segments"), ("prefix", "zstd_whole_prefix"),
                        ("cli", "zstd_cli_patch_from"), ("bsdiff", "bsdiff4")):
        if args.compare_mb == 0 or (name == "cli" and shutil.which("zstd") is None) \
                or (name == "bsdiff" and importlib.util.find_spec("bsdiff4") is None):  # not a dependency
            continue
        result = step(name, [str(cbase), str(cnew), str(folder / f"cmp-{name}"), args.level])
        compare[label] = {"patch_kb": round(result["size"] / 1e3, 1),
                          "create_s": round(result.get("create_s", result["seconds"]), 2),
                          "peak_mib": round(result["peak_mib"])}
    report["compare"] = compare
    print(json.dumps(report, indent=2))
    ok = made["size"] <= 0.05 * full and made["seconds"] <= 60 and made["peak_mib"] <= 1024 \
        and applied["seconds"] <= fetched["seconds"]
    print(f"P5 {'PASS' if ok else 'FAIL'}: patch {made['size'] / full:.2%} of the full archive (goal ≤ 5 %), "
          f"creation {made['seconds']:.1f} s / {made['peak_mib']:.0f} MiB (≤ 60 s, ≤ 1024 MiB), apply+verify "
          f"{applied['seconds']:.2f} s vs download+extract {fetched['seconds']:.2f} s (goal ≤ 1x)")
    out = Report("P5", f"Delta updates ({nlen / 1e6:.0f} MB bundle, ~1 % changed)", smoke=args.smoke)
    out.add("patch size, share of the full archive", 100 * made["size"] / full, "%", goal="<= 5 %",
            met=made["size"] <= 0.05 * full)
    out.add("patch creation", made["seconds"], "s", goal="<= 60 s", met=made["seconds"] <= 60)
    out.add("patch creation, peak RSS", made["peak_mib"], "MiB", goal="<= 1024 MiB", met=made["peak_mib"] <= 1024)
    out.add("apply + verify vs download + extract", applied["seconds"], "s", baseline=fetched["seconds"],
            ratio=applied["seconds"] / fetched["seconds"], goal="<= 1x", met=applied["seconds"] <= fetched["seconds"])
    out.write(args.json)
    if args.smoke:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
