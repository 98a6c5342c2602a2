"""Releases in the update repository: publish an archive as a signed target, list, yank.

Each release is one TUF target named by :func:`crystal_protocol.releases.target_name`, stored as
``DIR/repository/targets/<sha256>.<name>``, with a :class:`ReleaseInfo` as its ``custom`` metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile

from crystal_protocol.releases import (
    CHANNELS,
    PatchInfo,
    ReleaseFormatError,
    ReleaseInfo,
    Version,
    check_platform,
    check_product,
    patch_target_name,
    target_name,
)
from crystal_server.archives import ArchiveError, archive_suffix, check_archive
from crystal_server.tuf_repo import RepoError, TufRepository, utc_now

EXIT_INPUT = 2
EXIT_STATE = 3
#: Patches built at each publish: from this many earlier releases (same product, platform and channel).
DEFAULT_PATCHES = 3


@dataclass(frozen=True)
class PublishedPatch:
    """A patch target as the signed targets metadata lists it."""

    info: PatchInfo
    target: str
    sha256: str
    length: int

    def to_json(self) -> dict[str, Any]:
        """The object ``release list --json`` prints under a release's ``patches``."""
        return {"from_version": self.info.from_version, "target": self.target, "sha256": self.sha256,
                "length": self.length}


@dataclass(frozen=True)
class PublishedRelease:
    """A release as the signed targets metadata lists it."""

    info: ReleaseInfo
    target: str  # the TUF target path (a flat file name)
    sha256: str
    length: int
    patches: tuple[PublishedPatch, ...] = ()  # signed patches that lead to this release

    @property
    def file_name(self) -> str:
        """The file under ``DIR/repository/targets`` (consistent snapshot: hash-prefixed)."""
        return f"{self.sha256}.{self.target}"

    def to_json(self) -> dict[str, Any]:
        """The object ``release list --json`` prints."""
        info = self.info
        return {"product": info.product, "version": info.version, "platform": info.platform,
                "channel": info.channel, "size": self.length, "released_at": info.released_at,
                "critical": info.critical, "min_manager": info.min_manager, "target": self.target,
                "sha256": self.sha256, "length": self.length, "patches": [p.to_json() for p in self.patches]}


def format_time(moment: datetime) -> str:
    """``2026-11-30T12:00:00Z``, as ReleaseInfo wants it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> str:
    """An ISO 8601 time (a time without zone is taken as UTC) in ReleaseInfo's form."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RepoError(f"not a date and time: {text!r} (use e.g. 2026-11-30T12:00:00Z)", EXIT_INPUT) from None
    return format_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _release(target: TargetFile) -> PublishedRelease | None:
    try:
        info = ReleaseInfo.from_custom(target.custom)
    except ReleaseFormatError:
        return None  # not one of ours: never listed, never yanked by accident
    return PublishedRelease(info=info, target=target.path, sha256=target.hashes.get("sha256", ""),
                            length=target.length)


def _patch(target: TargetFile) -> PublishedPatch | None:
    try:
        info = PatchInfo.from_custom(target.custom)
    except ReleaseFormatError:
        return None
    return PublishedPatch(info=info, target=target.path, sha256=target.hashes.get("sha256", ""),
                          length=target.length)


def list_releases(repo: TufRepository) -> list[PublishedRelease]:
    """Every release the current targets metadata offers, by product, platform and version, each with the
    patches that lead to it."""
    targets = repo.load_targets().signed.targets.values()
    patches = [p for t in targets if (p := _patch(t)) is not None]
    found = [replace(r, patches=tuple(sorted((p for p in patches if p.info.to_target == r.target),
                                             key=lambda p: Version.parse(p.info.from_version))))
             for t in targets if (r := _release(t)) is not None]
    return sorted(found, key=lambda r: (r.info.product, r.info.platform, Version.parse(r.info.version)))


def _yanked_file(repo: TufRepository) -> Path:
    return repo.data_dir / "repository" / "yanked.json"


def yanked(repo: TufRepository) -> list[dict[str, Any]]:
    """Releases taken back: product, version, platform, target, sha256, yanked_at."""
    try:
        data = json.loads(_yanked_file(repo).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError) as exc:
        raise RepoError(f"cannot read {_yanked_file(repo)}: {exc}") from exc
    return data if isinstance(data, list) else []


def _same(info: ReleaseInfo | dict[str, Any], product: str, version: str, platform: str) -> bool:
    facts = info if isinstance(info, dict) else info.to_custom()
    return (facts.get("product"), facts.get("platform")) == (product, platform) \
        and Version.parse(str(facts.get("version"))) == Version.parse(version)


def _copy_hashing(source: Path, folder: Path, suffix: str) -> tuple[Path, str, int]:
    """Copy ``source`` into ``folder`` under a hidden temporary name; its SHA-256 and length."""
    digest = hashlib.sha256()
    length = 0
    fd, temp = tempfile.mkstemp(prefix=".incoming-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                length += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(temp)
        raise
    return Path(temp), digest.hexdigest(), length


def _check_args(product: str, version: str, channel: str, platform: str | None, min_manager: str | None) -> None:
    try:
        check_product(product)
        Version.parse(version)
        if platform is not None:
            check_platform(platform)
        if min_manager is not None:
            Version.parse(min_manager)
    except ReleaseFormatError as exc:
        raise RepoError(str(exc), EXIT_INPUT) from exc
    if channel not in CHANNELS:
        raise RepoError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})", EXIT_INPUT)


def publish(repo: TufRepository, archive: Path, *, product: str, version: str, channel: str = "stable",
            platform: str | None = None, notes: str = "", critical: bool = False, min_manager: str | None = None,
            released_at: str | None = None, patches: int = DEFAULT_PATCHES) -> PublishedRelease:
    """Check ``archive``, copy it into the repository and sign it as a new target (targets, snapshot and
    timestamp re-signed), with patches to it from the last ``patches`` releases of the same product,
    platform and channel (crystal_server/deltas.py). RepoError code 2: bad archive or arguments; code 3:
    already published or yanked.

    The checked bytes are the published bytes: the archive is copied first and the copy is checked."""
    if patches < 0:
        raise RepoError("--patches must be 0 or more", EXIT_INPUT)
    _check_args(product, version, channel, platform, min_manager)
    try:
        suffix = archive_suffix(archive)
    except ArchiveError as exc:
        raise RepoError(str(exc), EXIT_INPUT) from exc
    if not archive.is_file():
        raise RepoError(f"no archive file {archive}", EXIT_INPUT)
    when = parse_time(released_at) if released_at else format_time(utc_now())
    with repo.locked():
        targets = repo.load_targets()
        temp, sha256, length = _copy_hashing(archive, repo.targets_dir, suffix)
        try:
            try:
                manifest = check_archive(temp, label=archive.name)
            except ArchiveError as exc:
                raise RepoError(str(exc), EXIT_INPUT) from exc
            for name, given, found in (("product", product, manifest.product),
                                       ("version", version, manifest.version),
                                       ("platform", platform or manifest.platform, manifest.platform)):
                if given != found:
                    raise RepoError(f"the archive's product.json says {name} {found!r}, not {given!r}", EXIT_INPUT)
            plat = manifest.platform
            for old in list_releases(repo):
                if _same(old.info, product, version, plat):
                    raise RepoError(f"{product} {version} for {plat} is already published "
                                    f"({old.target}); publish a new version instead", EXIT_STATE)
            if any(_same(y, product, version, plat) for y in yanked(repo)):
                raise RepoError(f"{product} {version} for {plat} was yanked; publish a new version instead",
                                EXIT_STATE)
            info = ReleaseInfo(product=product, version=version, platform=plat, channel=channel,
                               released_at=when, notes=notes, min_manager=min_manager, critical=critical)
            custom = ReleaseInfo.from_custom(info.to_custom()).to_custom()  # the same checks the client runs
            name = target_name(product, version, plat, suffix)
            final = repo.targets_dir / f"{sha256}.{name}"
            os.chmod(temp, 0o644)
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        targets.signed.targets[name] = TargetFile(length=length, hashes={"sha256": sha256}, path=name,
                                                  unrecognized_fields={"custom": custom})
        release = PublishedRelease(info=info, target=name, sha256=sha256, length=length)
        bases = [old for old in reversed(list_releases(repo))
                 if (old.info.product, old.info.platform, old.info.channel) == (product, plat, channel)
                 and Version.parse(old.info.version) < Version.parse(version)][:patches]
        made = _build_patches(repo, release, suffix, bases)
        for patch in made:
            targets.signed.targets[patch.target] = TargetFile(
                length=patch.length, hashes={"sha256": patch.sha256}, path=patch.target,
                unrecognized_fields={"custom": patch.info.to_custom()})
        repo.commit(targets)
    return replace(release, patches=tuple(made))


def _build_patches(repo: TufRepository, release: PublishedRelease, suffix: str,
                   bases: list[PublishedRelease]) -> list[PublishedPatch]:
    """Patches from each base to ``release``, stored hash-prefixed in the targets folder. A patch not smaller
    than the full archive is not kept (nobody would take it)."""
    if not bases:
        return []
    from crystal_server.deltas import build_patch, decompress_to

    made: list[PublishedPatch] = []
    info = release.info
    with tempfile.TemporaryDirectory(prefix=".patches-", dir=repo.targets_dir) as work:
        folder = Path(work)
        new_tar = folder / "new.tar"
        to_sha, to_length = decompress_to(repo.targets_dir / release.file_name, new_tar)
        for base in bases:
            base_tar, patch_file = folder / "base.tar", folder / "patch"
            from_sha, from_length = decompress_to(repo.targets_dir / base.file_name, base_tar)
            build_patch(base_tar, new_tar, patch_file)
            stored, sha256, length = _copy_hashing(patch_file, repo.targets_dir, ".patch")
            if length >= release.length:
                stored.unlink()
                continue
            patch = PatchInfo(product=info.product, platform=info.platform, from_version=base.info.version,
                              from_tar_sha256=from_sha, from_tar_length=from_length, to_version=info.version,
                              to_target=release.target, to_sha256=release.sha256, to_length=release.length,
                              to_tar_sha256=to_sha, to_tar_length=to_length)
            name = patch_target_name(info.product, base.info.version, info.version, info.platform, suffix)
            PatchInfo.from_custom(patch.to_custom())  # the same checks the client runs
            os.chmod(stored, 0o644)
            os.replace(stored, repo.targets_dir / f"{sha256}.{name}")
            made.append(PublishedPatch(info=patch, target=name, sha256=sha256, length=length))
    return made


def yank(repo: TufRepository, *, product: str, version: str, platform: str | None = None) -> list[PublishedRelease]:
    """Take a release out of the signed targets (every platform unless ``platform``); its file stays on
    disk (a client mid-download may finish; nothing offers it). RepoError code 2 when there is none."""
    _check_args(product, version, "stable", platform, None)
    with repo.locked():
        targets = repo.load_targets()
        gone = [r for r in list_releases(repo)
                if _same(r.info, product, version, platform or r.info.platform)]
        if not gone:
            where = f" for {platform}" if platform else ""
            raise RepoError(f"no published release {product} {version}{where}", EXIT_INPUT)
        record = yanked(repo)
        for release in gone:
            del targets.signed.targets[release.target]
            for patch in release.patches:  # nothing may lead to a release taken back
                del targets.signed.targets[patch.target]
            record.append({"product": product, "version": release.info.version,
                           "platform": release.info.platform, "target": release.target,
                           "sha256": release.sha256, "yanked_at": format_time(utc_now())})
        repo.commit(targets)
        text = json.dumps(record, indent=2) + "\n"
        temp = _yanked_file(repo).with_name(".yanked.json.tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, _yanked_file(repo))
    return gone


__all__ = ["DEFAULT_PATCHES", "PublishedPatch", "PublishedRelease", "format_time", "list_releases", "parse_time",
           "publish", "yank", "yanked"]
