"""Words for the Updates page and the update notifications: what is offered and why (or why not), the
download's progress, the signature check and the last install — plain language, no engineer terms."""

from __future__ import annotations

from crystal_manager.gui.problems import Problem, ProblemKind
from crystal_manager.gui.texts import channel_name, fmt_eta, fmt_size, fmt_speed, short_key_id, tr
from crystal_manager.gui.update_api import Activity, Outcome, UpdatesFacts
from crystal_manager.net import errors as net
from crystal_manager.services.update_types import Release, UpdateStatus
from crystal_manager.services.usertext import explain
from crystal_manager.storage.atomic import StorageError
from crystal_manager.updates import errors as up

PRODUCT = "CrystalMe3D Pro"



def not_entitled_words(code: str) -> str:
    """Why the license does not cover a release, when the service gave no words of its own."""
    match code:
        case "no_license":
            return tr("Activate CrystalMe3D Pro to receive updates.")
        case "max_version":
            return tr("Your license covers versions up to an earlier one. Upgrade your license to get this "
                      "version.")
        case "released_after_end":
            return tr("It was released after your subscription ended. Renew the subscription to get it.")
        case "license_locked":
            return tr("The license could not be verified for too long. Connect to the internet so it can be "
                      "verified, then check again.")
    return ""


def headline(facts: UpdatesFacts) -> tuple[str, str]:
    """The page's headline and the sentence under it."""
    status, check = facts.status, facts.check
    if status is None:
        return tr("Reading what is installed…"), ""
    if facts.activity is Activity.CHECKING:
        return tr("Checking for updates…"), tr("Only the list of versions is asked for; nothing about you or "
                                               "this computer is sent.")
    if facts.unverified:
        return tr("No update is offered for now"), ""  # the problem banner says why and what to do
    if facts.activity is Activity.DOWNLOADING and facts.progress is not None:
        return (tr("Downloading %1 %2…").replace("%1", PRODUCT).replace("%2", facts.progress.version),
                tr("You can keep working; the download continues in the background."))
    downloaded = facts.downloaded
    if downloaded is not None and downloaded == status.failed_install and downloaded != status.installed_version:
        return (tr("%1 %2 could not be installed").replace("%1", PRODUCT).replace("%2", downloaded),
                tr("It did not start on this computer, so %1 was put back. You can try again later, or skip "
                   "this version.").replace("%1", status.installed_version or tr("the previous version")))
    if downloaded is not None and downloaded != status.installed_version:
        if status.install_at_next_start == downloaded:
            return (tr("%1 %2 will be installed when the Manager next starts").replace("%1", PRODUCT)
                    .replace("%2", downloaded),
                    tr("You can also install it now."))
        return (tr("%1 %2 is ready to install").replace("%1", PRODUCT).replace("%2", downloaded),
                tr("It was downloaded and its signature checked. Installing keeps the current version, so you "
                   "can go back to it."))
    offer = facts.offer_release
    if offer is not None:
        body = (tr("The vendor marked this update as important: it fixes a serious problem. Install it soon.")
                if offer.critical else "")
        return tr("%1 %2 is available").replace("%1", PRODUCT).replace("%2", offer.version), body
    if check is None and status.last_check_at:
        # Checked before, but no answer to show for this channel (another channel's, or not kept): never
        # "not checked yet" beside "Last checked: 5 minutes ago".
        return (tr("Check again to see what is offered"),
                tr("The answer of the last check is not at hand for this channel. Only the list of versions is "
                   "asked for; nothing about you or this computer is sent."))
    if check is None:
        return (tr("Not checked for updates yet"),
                tr("Check for updates to see whether a newer version is available. Only the list of versions "
                   "is asked for; nothing about you or this computer is sent."))
    newest = check.newest or check.offer
    version = newest.version if newest is not None else ""
    channel = channel_name(check.channel)
    match facts.reason:
        case "skipped":
            return (tr("You skipped version %1").replace("%1", version),
                    tr("It is not offered again. A newer version will be."))
        case "kept":
            kept = status.previous_version or version
            return (tr("You are using %1; %2 stays on this computer").replace("%1", status.installed_version or "")
                    .replace("%2", kept),
                    tr("To use %1 again, choose Return to %1. Newer versions are offered as usual.")
                    .replace("%1", kept))
        case "not_entitled" if check.entitlement.code == "no_license":
            return (tr("Version %1 is available: activate to get it").replace("%1", version),
                    not_entitled_words("no_license"))
        case "not_entitled":
            reason = check.entitlement.reason or not_entitled_words(check.entitlement.code)
            return tr("Version %1 is not included in your license").replace("%1", version), reason
        case "needs_newer_manager":
            need = newest.min_manager if newest is not None and newest.min_manager else None
            body = (tr("Update CrystalMe3D Pro Manager to %1 or later first; then this version can be installed.")
                    .replace("%1", need) if need else tr("Update CrystalMe3D Pro Manager first."))
            return tr("Version %1 needs a newer Manager").replace("%1", version), body
        case "no_releases":
            return (tr("No versions are available for this computer yet"),
                    tr("Nothing is published for this computer on the %1 channel.").replace("%1", channel))
    installed = status.installed_version
    body = (tr("%1 %2 is the newest version on the %3 channel.").replace("%1", PRODUCT)
            .replace("%2", installed).replace("%3", channel) if installed else "")
    return tr("You have the latest version"), body


def download_size_words(offer: Release, status: UpdateStatus | None = None) -> str:
    """The size that will really be downloaded: "210 KB — patch from 1.1.0" or "25.9 MB — full download",
    with why the last download took the full archive when it had to (status.delta_note)."""
    if offer.delta_from and offer.download_size:
        return tr("%1 — patch from %2").replace("%1", fmt_size(offer.download_size)).replace("%2", offer.delta_from)
    text = tr("%1 — full download").replace("%1", fmt_size(offer.size))
    pending = status.pending if status is not None else None
    if status is not None and status.delta_note and pending is not None and pending.version == offer.version:
        # The service's sentence is "Took the full download because <reason>."; the row keeps the reason.
        reason = status.delta_note.removeprefix("Took the full download because ").rstrip(".")
        # On a line of its own (a long reason wraps instead of running off the page), and said so it cannot
        # be read against "Installed: X": a patch needs the downloaded file of X, not the installed program.
        reason = reason.replace(" download the patch applies to ", " download file that the patch is made "
                                "from ")
        text = (tr("%1 — full download") + "\n" + tr("Not a patch: %2. The installed version is not affected."))\
            .replace("%1", fmt_size(offer.size)).replace("%2", reason)
    return text


def progress_line(facts: UpdatesFacts) -> tuple[str, int, int] | None:
    """The progress text, bytes done and total; None when no download runs or waits."""
    activity, progress, paused = facts.activity, facts.progress, facts.paused
    if activity in (Activity.DOWNLOADING, Activity.PAUSING, Activity.CANCELLING):
        if progress is None:
            pending = facts.status.pending if facts.status is not None else None
            done, total = (pending.received, pending.total) if pending is not None else (0, 0)
            return tr("Starting the download…"), done, total
        done, total = progress.received, progress.total
        amount = tr("%1 of %2").replace("%1", fmt_size(done)).replace("%2", fmt_size(total))
        if activity is Activity.PAUSING:
            return tr("Pausing at %1…").replace("%1", amount), done, total
        if activity is Activity.CANCELLING:
            return tr("Cancelling…"), done, total
        parts = [amount]
        if progress.bytes_per_second > 0:
            parts.append(fmt_speed(progress.bytes_per_second))
        eta = fmt_eta(progress.eta_seconds)
        if eta:
            parts.append(eta)
        return tr("Downloading %1: ").replace("%1", progress.version) + " · ".join(parts), done, total
    if paused is not None:
        amount = tr("%1 of %2").replace("%1", fmt_size(paused.received)).replace("%2", fmt_size(paused.total))
        percent = int(100 * paused.received / paused.total) if paused.total else 0
        return (tr("Download of %1 paused at %2 (%3%). Resume to continue from there.")
                .replace("%1", paused.version).replace("%2", amount).replace("%3", str(percent)),
                paused.received, paused.total)
    return None


def signature_line(facts: UpdatesFacts) -> str | None:
    """The signature check in words: verified with the key ids, or a warning; None before any check."""
    if facts.unverified:
        return tr("⚠ Not verified — nothing from this check is offered or installed")
    keys = facts.signed_by or (facts.check.signed_by if facts.check is not None else ())
    if not keys:
        return None
    # The key ids are technical details: signature_details() gives them for the row's tooltip.
    return "✓ " + (tr("Verified: signed by the vendor's key") if len(keys) == 1 else
                   tr("Verified: signed by the vendor's keys"))


def signature_details(facts: UpdatesFacts) -> str | None:
    """Technical details of the signature check: the ids of the keys that signed (None without them)."""
    keys = facts.signed_by or (facts.check.signed_by if facts.check is not None else ())
    if facts.unverified or not keys:
        return None
    return tr("Technical details: key id %1").replace("%1", ", ".join(short_key_id(k) for k in keys))


def outcome_words(outcome: Outcome) -> tuple[str, str, str]:
    """Headline, body and banner level for the last install or rollback."""
    kept = (tr("Version %1 is kept, so you can go back to it.").replace("%1", outcome.previous)
            if outcome.previous else "")
    used = tr("You will see it the next time you start %1.").replace("%1", PRODUCT)
    match outcome.kind:
        case "installed":
            return (tr("%1 %2 is installed").replace("%1", PRODUCT).replace("%2", outcome.version),
                    f"{used} {kept}".strip(), "info")
        case "scheduled":
            return (tr("%1 will be installed when the Manager next starts").replace("%1", outcome.version),
                    tr("Nothing changes until then."), "info")
        case "rolled_back":
            again = (tr("Version %1 stays on this computer if you want it back.")
                     .replace("%1", outcome.previous) if outcome.previous else "")
            return (tr("Back to %1 %2").replace("%1", PRODUCT).replace("%2", outcome.version),
                    f"{used} {again}".strip(), "info")
        case _:
            return (tr("The new version did not start, so %1 was put back").replace("%1", outcome.version),
                    tr("%1 keeps working as before. Contact support if this happens again.").replace("%1", PRODUCT),
                    "warning")


def _problem_words(exc: BaseException) -> tuple[ProblemKind, str, str]:
    # Most specific first: MetadataExpired before MetadataRejected, transport kinds before TransportError.
    if isinstance(exc, net.TLSFailed | net.ProxyFailed):
        return (ProblemKind.PROXY_TLS, tr("A proxy or secure-connection problem"),
                tr("A proxy or TLS inspection on this network may be in the way. Ask the network administrator "
                   "to allow connections to the update server. Nothing changed."))
    if isinstance(exc, net.TransportError):
        return (ProblemKind.NETWORK, tr("The update server cannot be reached"),
                tr("Nothing changed. Check the internet connection and try again."))
    if isinstance(exc, up.UpdateServerUnavailable):
        return (ProblemKind.NETWORK, tr("The update server had a problem"),
                tr("Nothing changed. Try again later."))
    if isinstance(exc, up.MetadataExpired):
        return (ProblemKind.DENIED, tr("The update information is out of date"),
                tr("The server sent old update information, so nothing is offered. Nothing on this computer "
                   "changed. Try again later."))
    if isinstance(exc, up.MetadataRejected):
        return (ProblemKind.DENIED, tr("The update information could not be verified"),
                tr("It was not signed by the vendor's keys, or it was changed on the way, so nothing is offered. "
                   "Nothing on this computer changed."))
    if isinstance(exc, up.TargetRejected):
        return (ProblemKind.DENIED, tr("The download did not match its signature"),
                tr("It was deleted and nothing was installed. Try again; if it happens again, contact support."))
    if isinstance(exc, up.ArchiveRejected):
        return (ProblemKind.DENIED, tr("The update is not safe to install"),
                tr("Nothing was installed. Contact CrystalMe3D Pro support."))
    if isinstance(exc, up.HealthCheckFailed):
        return (ProblemKind.INTERNAL, tr("The new version did not start"),
                tr("The previous version was put back, so CrystalMe3D Pro keeps working. Contact support if this "
                   "happens again."))
    if isinstance(exc, up.InstallFailed):
        return (ProblemKind.INTERNAL, tr("The update could not be installed"),
                tr("CrystalMe3D Pro stays at its current version. Check that there is free disk space, then try "
                   "again."))
    if isinstance(exc, up.NothingToRollBack):
        return ProblemKind.DENIED, tr("There is no earlier version to go back to"), tr("Nothing changed.")
    if isinstance(exc, up.NotEntitled):
        return (ProblemKind.DENIED, tr("Your license does not include this version"),
                tr("Nothing was downloaded."))
    if isinstance(exc, up.NoUpdateOffered):
        return ProblemKind.DENIED, tr("There is no update to install"), tr("Check for updates again.")
    if isinstance(exc, up.UpdateBusy):
        return (ProblemKind.NETWORK, tr("Another update is in progress"),
                tr("Another window or command of the Manager is working on updates. Try again when it has "
                   "finished."))
    if isinstance(exc, up.UpdateStateDamaged):
        return (ProblemKind.INTERNAL, tr("The update records on this computer were damaged"),
                tr("They were set aside. Try again."))
    if isinstance(exc, up.UpdatesNotConfigured):
        return (ProblemKind.DENIED, tr("Updates are not set up in this copy of the Manager"),
                tr("It has no signing keys to check updates with, so it installs nothing. Contact support."))
    if isinstance(exc, up.UpdateRefusedByUser):
        return ProblemKind.DENIED, tr("That cannot be done"), tr("Nothing changed.")
    if isinstance(exc, StorageError | OSError):
        return (ProblemKind.INTERNAL, tr("The Manager could not save its files"),
                tr("Check that there is free disk space, then try again."))
    return (ProblemKind.INTERNAL, tr("Something went wrong inside the app"),
            tr("Copy the diagnostics from the About page and send them to support."))


def update_problem(exc: BaseException) -> Problem:
    """The problem to show for a failed update action: headline, next step, and the facts in one line
    (from services.usertext, the one place errors become words)."""
    kind, title, advice = _problem_words(exc)
    detail, _outcome = explain(exc)
    if detail.startswith("Internal error:") and isinstance(exc, up.UpdateError):
        detail = str(exc)  # the updates words are not registered: the error's own sentence, not its class
    return Problem(kind=kind, headline=title, detail=detail, advice=advice)


def is_verification_failure(exc: BaseException) -> bool:
    """A signature or hash check failed (the page says "not verified")."""
    return isinstance(exc, up.MetadataRejected | up.TargetRejected)
