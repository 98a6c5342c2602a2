"""The update use cases through the service the GUI and CLI use, against the real reference server:
real TUF metadata, real release archives, real installs under the app's folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crystal_manager.config.profile import load_profile_file
from crystal_manager.config.settings import load_settings
from crystal_manager.net.errors import ConnectFailed
from crystal_manager.services.context import AppContext
from crystal_manager.services.status import LicenseStatus
from crystal_manager.services.update_service import UpdateService
from crystal_manager.services.update_types import DownloadControl, DownloadProgress
from crystal_manager.services.usertext import Outcome, explain
from crystal_manager.updates import errors
from crystal_manager.updates.errors import (
    HealthCheckFailed,
    MetadataRejected,
    NotEntitled,
    NothingToRollBack,
    NoUpdateOffered,
    TargetRejected,
    UpdateBusy,
    UpdateRefusedByUser,
    UpdatesNotConfigured,
)
from crystal_manager.updates.lock import UpdatesLock
from tests.support.keyring_memory import MemoryKeyring
from tests.support.licensing import context, issue, service
from tests.support.servers import ReferenceServer
from tests.support.update_repo import publish, targets_key_ids, yank

ACTIVE = LicenseStatus(state="active")


def updates(ctx: AppContext, status: LicenseStatus = ACTIVE) -> UpdateService:
    return UpdateService(ctx, license_status=lambda: status)


def install_version(svc: UpdateService, version: str) -> None:
    result = svc.check()
    assert result.offer is not None and result.offer.version == version, result
    svc.download()
    assert svc.install().version == version


def test_check_offers_the_newest_stable_and_sends_only_file_names(
        upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    publish(reference_server, "1.1.0", notes="Faster *slicing*.")
    publish(reference_server, "1.2.0-beta.1", channel="beta")
    svc = updates(upd_ctx)
    result = svc.check()
    assert result.offer is not None and result.offer.version == "1.1.0"
    assert result.offer.notes == "Faster *slicing*." and result.offer.size > 0 and not result.offer.critical
    assert result.reason == "offered" and result.entitlement.allowed and result.channel == "stable"
    assert result.signed_by == targets_key_ids(reference_server.data_dir) and result.metadata_version >= 1
    assert svc.signature_summary() == result.signed_by
    entries = upd_ctx.ledger.entries()
    assert entries and {e["kind"] for e in entries} == {"update_metadata"}
    for entry in entries:
        assert set(entry["fields"]) == {"name"}
        assert {h.lower() for h in entry["headers"]} <= {"user-agent", "accept", "accept-encoding", "host",
                                                          "connection"}
    # The trusted metadata is kept for the next run (rollback protection), under the data folder.
    assert (upd_ctx.paths.data_dir / "updates" / "metadata" / "timestamp.json").exists()
    assert svc.status().last_check == result and svc.status().last_check_at == result.checked_at


def test_beta_channel_sees_beta_and_the_choice_is_kept(upd_ctx: AppContext,
                                                        reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.1.0")
    publish(reference_server, "1.2.0-beta.1", channel="beta")
    svc = updates(upd_ctx)
    assert svc.check().offer.version == "1.1.0"  # type: ignore[union-attr]
    svc.set_channel("beta")
    # Decided again from the stored signed facts, before any network.
    last = svc.status().last_check
    assert last is not None and last.offer is not None and last.offer.version == "1.2.0-beta.1"
    assert svc.check().offer.version == "1.2.0-beta.1"  # type: ignore[union-attr]
    assert load_settings(upd_ctx.paths.settings_file).update_channel == "beta"
    with pytest.raises(UpdateRefusedByUser):
        svc.set_channel("nightly")


def test_skip_a_version_but_never_a_critical_one(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    install_version(svc, "1.0.0")
    publish(reference_server, "1.1.0")
    publish(reference_server, "1.2.0")
    assert svc.check().offer.version == "1.2.0"  # type: ignore[union-attr]
    svc.skip("1.2.0")
    assert svc.status().skipped == ("1.2.0",)
    assert svc.status().last_check.offer.version == "1.1.0"  # type: ignore[union-attr]
    assert svc.check().offer.version == "1.1.0"  # type: ignore[union-attr]
    svc.skip("1.1.0")
    result = svc.check()
    assert result.offer is None and result.reason == "skipped"
    with pytest.raises(NoUpdateOffered):
        svc.download()
    publish(reference_server, "1.3.0", critical=True)
    svc.check()
    with pytest.raises(UpdateRefusedByUser, match="important update"):
        svc.skip("1.3.0")
    with pytest.raises(UpdateRefusedByUser, match="not a release known"):
        svc.skip("7.7.7")
    with pytest.raises(UpdateRefusedByUser):
        svc.skip("not-a-version")
    with pytest.raises(UpdateRefusedByUser, match=r"not newer than the installed 1\.0\.0"):
        svc.skip("1.0.0")


def test_skipping_the_downloaded_version_deletes_its_download(upd_ctx: AppContext,
                                                               reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    install_version(svc, "1.0.0")
    publish(reference_server, "1.1.0")
    svc.check()
    assert svc.download().complete
    svc.skip("1.1.0")
    assert svc.status().pending is None
    assert not [p for p in (upd_ctx.paths.data_dir / "updates" / "downloads").iterdir() if "1.1.0" in p.name]
    with pytest.raises(NoUpdateOffered):
        svc.install()


def test_license_max_version_limits_the_offer(upd_ctx: AppContext, reference_server: ReferenceServer,
                                              memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, max_version="1.1")
    licensing = service(upd_ctx)
    assert licensing.activate(lic.key).max_version == "1.1"
    svc = UpdateService(upd_ctx, license_status=licensing.status)
    publish(reference_server, "2.0.0")
    result = svc.check()
    assert result.offer is None and result.reason == "not_entitled"
    assert result.entitlement.code == "max_version"
    assert result.entitlement.reason == "Your license covers versions up to 1.1; 2.0.0 needs an upgrade."
    with pytest.raises(NotEntitled) as refused:
        svc.download()
    assert explain(refused.value)[1] is Outcome.DENIED
    publish(reference_server, "1.1.5")
    result = svc.check()
    assert result.offer is not None and result.offer.version == "1.1.5"
    assert result.newest is not None and result.newest.version == "2.0.0" and not result.entitlement.allowed


def test_release_after_the_subscription_end_is_not_covered(upd_ctx: AppContext, reference_server: ReferenceServer,
                                                           memory_keyring: MemoryKeyring) -> None:
    lic = issue(reference_server.data_dir, expires="2098-01-01", max_version=None)
    licensing = service(upd_ctx)
    licensing.activate(lic.key)
    svc = UpdateService(upd_ctx, license_status=licensing.status)
    publish(reference_server, "1.1.0", released_at="2098-06-01T00:00:00Z")
    result = svc.check()
    assert result.offer is None and result.entitlement.code == "released_after_end"
    assert result.entitlement.reason == ("Released after your subscription ended on 2098-01-01; "
                                         "renew to get it.")


def test_no_license_means_no_offer(upd_ctx: AppContext, reference_server: ReferenceServer,
                                   memory_keyring: MemoryKeyring) -> None:
    publish(reference_server, "1.1.0")
    result = UpdateService(upd_ctx, license_status=service(upd_ctx).status).check()
    assert result.offer is None and result.entitlement.code == "no_license"


def test_other_product_or_platform_is_never_offered(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "5.0.0", platform="plan9-mips")
    publish(reference_server, "6.0.0", product="other-app")
    result = updates(upd_ctx).check()
    assert result.offer is None and result.newest is None and result.reason == "no_releases"
    publish(reference_server, "1.0.0")
    assert updates(upd_ctx).check().offer.version == "1.0.0"  # type: ignore[union-attr]


def test_download_install_rollback_end_to_end(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    assert svc.status().installed_version is None
    install_version(svc, "1.0.0")
    publish(reference_server, "1.1.0")
    seen: list[DownloadProgress] = []
    pending = svc.download(progress=seen.append)
    assert pending.complete and pending.version == "1.1.0" and pending.received == pending.total
    assert seen and seen[-1].received == seen[-1].total == pending.total
    status = svc.status()
    assert status.pending == pending and status.installed_version == "1.0.0"
    result = svc.install()
    assert (result.version, result.previous_version, result.health_ok) == ("1.1.0", "1.0.0", True)
    assert result.takes_effect == "next_start"
    status = svc.status()
    assert (status.installed_version, status.previous_version, status.pending) == ("1.1.0", "1.0.0", None)
    assert status.last_check is not None and status.last_check.reason == "up_to_date"
    kept = [p.name for p in (upd_ctx.paths.data_dir / "updates" / "downloads").iterdir()]
    assert len(kept) == 1 and "-1.1.0-" in kept[0]  # the older version's download was deleted
    back = svc.rollback()
    assert (back.version, back.previous_version) == ("1.0.0", "1.1.0")
    assert svc.status().installed_version == "1.0.0"
    assert svc.status().last_check.offer.version == "1.1.0"  # type: ignore[union-attr]
    ledger = [e for e in upd_ctx.ledger.entries() if e["kind"] == "update_target"]
    assert ledger and all(set(e["fields"]) == {"name"} for e in ledger)


def test_nothing_to_install_or_roll_back(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    svc = updates(upd_ctx)
    with pytest.raises(NoUpdateOffered):
        svc.install()
    with pytest.raises(NothingToRollBack):
        svc.rollback()
    publish(reference_server, "1.0.0")
    install_version(svc, "1.0.0")
    with pytest.raises(NoUpdateOffered, match="up to date"):
        svc.download()


def test_install_at_next_start_then_apply_pending(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    svc.check()
    svc.download()
    staged = svc.install(at_next_start=True)
    assert staged.takes_effect == "next_manager_start" and staged.version == "1.0.0"
    assert svc.status().install_at_next_start == "1.0.0" and svc.status().installed_version is None
    fresh = updates(upd_ctx)  # the Manager's next start: a new service
    done = fresh.apply_pending()
    assert done is not None and done.version == "1.0.0"
    assert fresh.status().installed_version == "1.0.0" and fresh.status().install_at_next_start is None
    assert fresh.apply_pending() is None


def test_broken_release_is_rolled_back(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    install_version(svc, "1.0.0")
    publish(reference_server, "1.1.0", broken=True)
    svc.check()
    svc.download()
    with pytest.raises(HealthCheckFailed) as failed:
        svc.install()
    words, outcome = explain(failed.value)
    assert words.startswith("CrystalMe3D Pro 1.1.0 did not start on this computer, so 1.0.0 was put back")
    assert outcome is Outcome.INTERNAL
    status = svc.status()
    assert status.installed_version == "1.0.0" and status.failed_install == "1.1.0"
    # The failure is remembered (the page and the tray stop offering it as "ready") until it is resolved:
    # a working 1.2.0 installs and the record goes.
    publish(reference_server, "1.2.0")
    svc.check()
    svc.download()
    assert svc.status().failed_install is None
    svc.install()
    assert svc.status().installed_version == "1.2.0" and svc.status().failed_install is None


def test_yanked_release_disappears_with_its_download(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    install_version(svc, "1.0.0")
    publish(reference_server, "1.1.0")
    svc.check()
    svc.download()
    downloads = upd_ctx.paths.data_dir / "updates" / "downloads"
    assert any("1.1.0" in p.name for p in downloads.iterdir())
    yank(reference_server, "1.1.0")
    result = svc.check()
    assert result.offer is None and result.reason == "up_to_date"
    assert svc.status().pending is None
    assert not any("1.1.0" in p.name for p in downloads.iterdir())
    with pytest.raises(NoUpdateOffered):
        svc.install()


def test_paused_download_resumes(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    control = DownloadControl()
    control.pause()  # stops after the first chunk
    from crystal_manager.updates.errors import DownloadStopped

    with pytest.raises(DownloadStopped) as stopped:
        svc.download(control=control)
    assert not stopped.value.cancelled
    pending = svc.status().pending
    assert pending is not None and not pending.complete and pending.version == "1.0.0"
    assert svc.download().complete
    assert svc.status().pending.complete  # type: ignore[union-attr]


def test_a_paused_download_is_discarded_without_the_network(upd_ctx: AppContext,
                                                             reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    control = DownloadControl()
    control.pause()
    from crystal_manager.updates.errors import DownloadStopped

    with pytest.raises(DownloadStopped):
        svc.download(control=control)
    downloads = upd_ctx.paths.data_dir / "updates" / "downloads"
    assert any(downloads.iterdir())
    reference_server.running.stop()  # offline: discarding is local
    sent = len(upd_ctx.ledger.entries())
    svc.discard_download()
    assert svc.status().pending is None and list(downloads.iterdir()) == []
    assert len(upd_ctx.ledger.entries()) == sent


def test_profile_without_update_root_fails_closed(app_home: Path, reference_server: ReferenceServer,
                                                  tmp_path: Path) -> None:
    data = json.loads(reference_server.profile_file.read_text())
    data["tuf_root"] = None
    bare = tmp_path / "bare-profile.json"
    bare.write_text(json.dumps(data))
    ctx = context(app_home, bare, reference_server.url)
    assert load_profile_file(bare).tuf_root is None
    with pytest.raises(UpdatesNotConfigured) as refused:
        updates(ctx).check()
    assert explain(refused.value)[1] is Outcome.BAD_INPUT
    assert ctx.ledger.entries() == []  # nothing was asked of a server we could not check


def test_server_down_is_a_network_problem_not_tampering(upd_ctx: AppContext,
                                                         reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    reference_server.running.stop()
    with pytest.raises(ConnectFailed) as down:
        updates(upd_ctx).check()
    assert not isinstance(down.value, MetadataRejected)
    assert explain(down.value)[1] is Outcome.OFFLINE


def test_one_process_at_a_time(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    svc = updates(upd_ctx)
    with UpdatesLock(upd_ctx.paths.data_dir / "updates" / "lock"), pytest.raises(UpdateBusy) as busy:
        svc.check()
    assert "another" in explain(busy.value)[0]
    assert upd_ctx.ledger.entries() == []
    svc.check()  # free again


def test_damaged_state_is_set_aside_not_fatal(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    state = upd_ctx.paths.data_dir / "updates" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    svc = updates(upd_ctx)
    status = svc.status()
    assert status.last_check is None and status.skipped == ()
    assert svc.state_warning is not None and "set aside" in svc.state_warning
    assert (state.parent / "state.damaged.json").read_text() == "{not json"
    publish(reference_server, "1.0.0")
    assert svc.check().offer is not None
    assert json.loads(state.read_text())["last_check"]["offer"]["version"] == "1.0.0"


def test_check_due_follows_the_interval_and_the_switch(upd_ctx: AppContext,
                                                       reference_server: ReferenceServer) -> None:
    svc = updates(upd_ctx)
    assert svc.check_due()  # never checked
    svc.check()
    assert not svc.check_due()
    upd_ctx.settings.check_interval_hours = 1e-9
    assert svc.check_due()
    svc.set_auto_check(False)
    assert not svc.check_due() and load_settings(upd_ctx.paths.settings_file).auto_check_updates is False


def test_license_is_asked_again_before_installing(upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    license_now = [ACTIVE]
    svc = UpdateService(upd_ctx, license_status=lambda: license_now[0])
    svc.check()
    svc.download()
    license_now[0] = LicenseStatus(state="revoked")
    with pytest.raises(NotEntitled, match="revoked"):
        svc.install()
    assert svc.status().installed_version is None
    svc.install(at_next_start=True)
    with pytest.raises(NotEntitled):
        svc.apply_pending()  # at the next start too
    assert svc.status().install_at_next_start is None  # a definite refusal is not retried at every start
    license_now[0] = ACTIVE
    assert svc.install().version == "1.0.0"


def test_a_download_changed_after_verification_is_never_installed(
        upd_ctx: AppContext, reference_server: ReferenceServer) -> None:
    publish(reference_server, "1.0.0")
    svc = updates(upd_ctx)
    svc.check()
    svc.download()
    (verified,) = (upd_ctx.paths.data_dir / "updates" / "downloads").iterdir()
    data = bytearray(verified.read_bytes())
    data[len(data) // 2] ^= 0xFF
    verified.write_bytes(bytes(data))
    with pytest.raises(TargetRejected, match="changed on disk") as refused:
        svc.install()
    assert explain(refused.value)[1] is Outcome.OFFLINE
    assert not verified.exists() and svc.status().installed_version is None
    assert not (upd_ctx.paths.install_root / "versions").exists() or \
        list((upd_ctx.paths.install_root / "versions").iterdir()) == []
    svc.download()  # the good file again, from the server
    assert svc.install().version == "1.0.0"


@pytest.mark.parametrize(("error", "outcome", "words"), [
    (errors.UpdatesNotConfigured("no root"), Outcome.BAD_INPUT, "not set up"),
    (errors.UpdateBusy("another Manager is busy"), Outcome.DENIED, "Busy"),
    (errors.UpdateStateDamaged("state set aside"), Outcome.INTERNAL, "set aside"),
    (errors.MetadataRejected("bad signature"), Outcome.OFFLINE, "could not be trusted"),
    (errors.MetadataExpired("expired"), Outcome.OFFLINE, "out of date"),
    (errors.UpdateServerUnavailable("HTTP 500"), Outcome.OFFLINE, "could not provide"),
    (errors.TargetRejected("hash differs"), Outcome.OFFLINE, "failed its signature check"),
    (errors.NoUpdateOffered("up to date"), Outcome.BAD_INPUT, "No update to do"),
    (errors.NotEntitled("needs an upgrade"), Outcome.DENIED, "Not included in your license"),
    (errors.UpdateRefusedByUser("1.3.0 is an important update and cannot be skipped"), Outcome.BAD_INPUT,
     "1.3.0 is an important update and cannot be skipped."),
    (errors.ArchiveRejected("link out"), Outcome.OFFLINE, "unsafe"),
    (errors.HealthCheckFailed("exit 1"), Outcome.INTERNAL, "previous one was put back"),
    (errors.InstallFailed("disk full"), Outcome.INTERNAL, "stays at the version"),
    (errors.NothingToRollBack("none kept"), Outcome.BAD_INPUT, "Nothing to roll back"),
    (errors.DownloadStopped("paused", cancelled=False), Outcome.DENIED, "Resume with"),
    (errors.DownloadStopped("cancelled", cancelled=True), Outcome.DENIED, "deleted"),
])
def test_every_update_error_has_words(error: Exception, outcome: Outcome, words: str) -> None:
    text, got = explain(error)
    assert got is outcome and words in text and "Internal error" not in text


def test_no_update_error_is_left_without_words() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.UpdateError)]
    assert len(classes) >= 16
    for klass in classes:
        sample = klass("x", cancelled=False) if klass is errors.DownloadStopped else klass("x")
        assert not explain(sample)[0].startswith("Internal error"), klass


def test_state_file_round_trip_keeps_unknown_keys(tmp_path: Path) -> None:
    from crystal_manager.services.update_types import CheckResult, Entitlement, Release
    from crystal_manager.updates.state import PendingRecord, StateFile, UpdateState

    release = Release(version="1.1.0", channel="stable", size=10, critical=True, notes="n", released_at="x",
                      min_manager=None, target_name="t.tar.gz")
    result = CheckResult(checked_at="2026-01-01T00:00:00Z", installed_version="1.0.0", channel="stable",
                         offer=release, newest=release, entitlement=Entitlement(True, "ok", ""), reason="offered",
                         signed_by=("k1", "k2"), metadata_version=4)
    record = PendingRecord(version="1.1.0", target_name="t.tar.gz", length=10, sha256="ab" * 32)
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"from_a_newer_manager": [1, 2]}))
    state_file = StateFile(path)
    state_file.update(last_check=result, last_check_at=result.checked_at, skipped=("1.0.5",), pending=record,
                      install_at_next_start=record, releases=({"target_name": "t.tar.gz"},))
    again = StateFile(path).load()
    assert again == UpdateState(last_check_at=result.checked_at, last_check=result, skipped=("1.0.5",),
                                pending=record, install_at_next_start=record, releases=({"target_name": "t.tar.gz"},),
                                extra={"from_a_newer_manager": [1, 2]})
    assert path.stat().st_mode & 0o077 == 0  # the user's alone


@pytest.mark.parametrize("content", [
    "[]", '{"skipped": "1.0.0"}', '{"pending": {"version": "1", "target_name": "../../x", "length": 1, '
    '"sha256": "a"}}', '{"last_check": {"checked_at": 1}}', '{"releases": [1]}', "\x00\x01",
])
def test_damaged_state_variants_are_set_aside(tmp_path: Path, content: str) -> None:
    from crystal_manager.updates.state import StateFile, UpdateState

    path = tmp_path / "state.json"
    path.write_text(content)
    state_file = StateFile(path)
    assert state_file.load() == UpdateState()
    assert state_file.damaged is not None and not path.exists()
    assert (tmp_path / "state.damaged.json").read_text() == content
