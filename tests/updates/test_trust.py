"""ngclient through our gateway against the real reference server: what is trusted, what is refused, and how
each refusal reads. Tampering is done to the files the server really serves."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_errors

from crystal_manager.net.errors import ConnectFailed, TimedOut
from crystal_manager.net.gateway import Gateway
from crystal_manager.services.context import AppContext
from crystal_manager.services.usertext import Outcome, explain
from crystal_manager.updates import trust
from crystal_manager.updates.errors import (
    MetadataExpired,
    MetadataRejected,
    UpdateServerUnavailable,
    UpdatesNotConfigured,
)
from crystal_manager.updates.fetcher import GatewayFetcher, MetadataNameRefused
from crystal_server.tuf_repo import Lifetimes, TufRepository
from tests.support.licensing import FAST
from tests.support.servers import ReferenceServer, init_server_dir
from tests.support.update_repo import publish, targets_key_ids


def refresh(ctx: AppContext) -> trust.TrustedTargets:
    return trust.refresh(ctx.paths.data_dir / "updates" / "metadata", ctx.profile.tuf_root, ctx.gateway,
                         ctx.gateway.base_url)


def served(server: ReferenceServer, name: str) -> Path:
    return server.data_dir / "repository" / "metadata" / name


def test_private_trusted_set_still_has_targets(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """trust.py reads ngclient's private trusted set (no public listing): a tuf upgrade that moves it fails
    here, not in a user's hands."""
    name = publish(reference_server, "1.0.0")
    trusted = refresh(upd_ctx)
    assert name in trusted.targets
    target = trusted.targets[name]
    assert target.length > 0 and len(target.hashes["sha256"]) == 64
    assert target.custom["version"] == "1.0.0"
    assert trusted.signed_by == targets_key_ids(reference_server.data_dir) and trusted.version >= 2
    # The same facts read back offline from the kept metadata (used before an install).
    cached = trust.cached_targets(upd_ctx.paths.data_dir / "updates" / "metadata")
    assert cached is not None and cached[name] == target


def test_fetcher_maps_urls_to_file_names_only(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    base = trust.metadata_base_url(reference_server.url)
    fetcher = GatewayFetcher(upd_ctx.gateway, base)
    assert fetcher.name_for(base + "timestamp.json") == "timestamp.json"
    assert fetcher.name_for(base + "12.snapshot.json") == "12.snapshot.json"
    for bad in ("../profile.json", "a/timestamp.json", "%2e%2e%2fprofile.json", "0.root.json", "root.json.bak",
                "secrets.json", "", "targets.json?x=1", "1.root.json/"):
        with pytest.raises(MetadataNameRefused):
            list(fetcher.fetch(base + bad))
    with pytest.raises(MetadataNameRefused):
        list(fetcher.fetch("https://elsewhere.example/v1/updates/metadata/root.json"))
    assert upd_ctx.ledger.entries() == []  # refused before anything was sent
    assert json.loads(b"".join(fetcher.fetch(base + "timestamp.json")))["signed"]["_type"] == "timestamp"
    with pytest.raises(tuf_errors.DownloadHTTPError) as missing:
        list(fetcher.fetch(base + "99.root.json"))
    assert missing.value.status_code == 404  # ngclient ends the root chain on 404
    assert [set(e["fields"]) for e in upd_ctx.ledger.entries()] == [{"name"}, {"name"}]


def test_changed_metadata_is_rejected(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    path = served(reference_server, "timestamp.json")
    data = json.loads(path.read_text())
    data["signed"]["version"] += 5  # changed without the key: the signature no longer matches
    path.write_text(json.dumps(data))
    with pytest.raises(MetadataRejected) as rejected:
        refresh(upd_ctx)
    text, outcome = explain(rejected.value)
    assert "not signed by the trusted keys" in text and outcome is Outcome.OFFLINE


def test_metadata_from_another_repository_is_rejected(upd_ctx: AppContext, reference_server: ReferenceServer,
                                                      tmp_path: Path) -> None:
    other = init_server_dir(tmp_path / "other-server")
    for name in ("timestamp.json",):
        shutil.copy(other / "repository" / "metadata" / name, served(reference_server, name))
    with pytest.raises(MetadataRejected, match="not signed by the trusted keys"):
        refresh(upd_ctx)


def test_rolled_back_metadata_is_rejected(upd_ctx: AppContext, reference_server: ReferenceServer,
                                          tmp_path: Path) -> None:
    old = tmp_path / "old-timestamp.json"
    shutil.copy(served(reference_server, "timestamp.json"), old)
    publish(reference_server, "1.0.0")
    refresh(upd_ctx)  # this computer now trusts the newer timestamp
    shutil.copy(old, served(reference_server, "timestamp.json"))
    with pytest.raises(MetadataRejected, match="rollback"):
        refresh(upd_ctx)


def test_expired_timestamp_is_refused(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    """A frozen server: its last timestamp, signed an hour ago (the repository's own ``now``) for a second,
    ran out long since; this computer's real clock refuses it."""
    repo = TufRepository(reference_server.data_dir, Lifetimes(timestamp=timedelta(seconds=1)))
    signed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with repo.locked():
        assert repo.refresh(force=True, now=signed_at) == ["timestamp"]
    assert repo.load_timestamp().signed.expires == signed_at + timedelta(seconds=1)
    with pytest.raises(MetadataExpired) as expired:
        refresh(upd_ctx)
    assert "stale or frozen" in explain(expired.value)[0]


def test_rotated_keys_are_followed(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    before = refresh(upd_ctx).signed_by
    for verb in ("rotate-online", "rotate-root"):
        proc = reference_server.admin("tuf", verb, str(reference_server.data_dir))
        assert proc.returncode == 0, proc.stderr
    after = refresh(upd_ctx)  # follows root 2, 3 … from the root built into the (old) profile
    assert after.signed_by == targets_key_ids(reference_server.data_dir) and after.signed_by != before
    history = upd_ctx.paths.data_dir / "updates" / "metadata" / "root_history"
    assert len(list(history.iterdir())) >= 3


def test_missing_metadata_is_the_server_s_problem(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    served(reference_server, "timestamp.json").unlink()
    with pytest.raises(UpdateServerUnavailable) as missing:
        refresh(upd_ctx)
    assert "404" in str(missing.value) and explain(missing.value)[1] is Outcome.OFFLINE


def test_no_root_fails_closed(upd_ctx: AppContext) -> None:
    with pytest.raises(UpdatesNotConfigured):
        trust.refresh(upd_ctx.paths.data_dir / "m", None, upd_ctx.gateway, upd_ctx.gateway.base_url)
    with pytest.raises(UpdatesNotConfigured, match="not usable"):
        trust.refresh(upd_ctx.paths.data_dir / "m", {"signed": {}}, upd_ctx.gateway, upd_ctx.gateway.base_url)
    assert upd_ctx.ledger.entries() == []


def test_transport_errors_stay_network_problems(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    reference_server.running.stop()
    gateway = Gateway(base_url=reference_server.url, ledger=upd_ctx.ledger, catalog=upd_ctx.catalog, config=FAST,
                      sleep=lambda _s: None)
    try:
        with pytest.raises(ConnectFailed):
            trust.refresh(upd_ctx.paths.data_dir / "m", upd_ctx.profile.tuf_root, gateway, reference_server.url)
    finally:
        gateway.close()


@pytest.mark.parametrize(("raised", "expected", "words"), [
    (tuf_errors.ExpiredMetadataError("timestamp.json is expired"), MetadataExpired, "expired"),
    (tuf_errors.UnsignedMetadataError("2/3 signatures"), MetadataRejected, "not signed"),
    (tuf_errors.BadVersionNumberError("4 < 5"), MetadataRejected, "rollback"),
    (tuf_errors.LengthOrHashMismatchError("snapshot hash"), MetadataRejected, "do not match each other"),
    (tuf_errors.RepositoryError("something else"), MetadataRejected, "failed verification"),
    (tuf_errors.DownloadHTTPError("answered 500", 500), UpdateServerUnavailable, "500"),
    (tuf_errors.DownloadLengthMismatchError("too long"), MetadataRejected, "too long"),
    (tuf_errors.SlowRetrievalError("slow"), UpdateServerUnavailable, "could not be fetched"),
])
def test_translation_of_ngclient_errors(raised: Exception, expected: type[Exception], words: str) -> None:
    mapped = trust.translate(raised)
    assert type(mapped) is expected and words in str(mapped)


def test_wrapped_network_error_is_unwrapped() -> None:
    wrapper = tuf_errors.DownloadError("Failed to download")
    wrapper.__cause__ = TimedOut("the server did not answer")
    assert isinstance(trust.translate(wrapper), TimedOut)
    refused = tuf_errors.DownloadError("Failed")
    refused.__cause__ = MetadataNameRefused("bad name")
    assert isinstance(trust.translate(refused), MetadataRejected)
