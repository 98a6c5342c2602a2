"""Every error class → headline, detail and next step, decided once for every face; the headline names
the action that failed, and each offline cause has its own headline."""

from __future__ import annotations

import pytest

from crystal_manager.licensing import errors as lic
from crystal_manager.net import errors as net
from crystal_manager.services.problems import Action, Cancelled, ProblemKind, kind_of, problem_for
from crystal_manager.services.usertext import explain
from crystal_manager.storage.atomic import StorageError
from crystal_manager.storage.secrets import SecretStoreError

# error, kind, headline (no action), a word the next step must contain
TABLE: list[tuple[BaseException, ProblemKind, str, str]] = [
    (lic.KeyFormatError("the key has a typo: its last group does not match", "checksum"), ProblemKind.TYPO,
     "This key has a typo", "purchase e-mail"),
    (lic.MachineLabelError("name too long"), ProblemKind.BAD_NAME, "The name for this computer cannot be used",
     "Shorten"),
    (net.ConnectFailed("connection refused"), ProblemKind.NETWORK, "The licensing server cannot be reached",
     "internet connection"),
    (net.TimedOut("no answer in 20 s"), ProblemKind.TIMED_OUT, "The licensing server did not answer in time",
     "try again"),
    (net.TLSFailed("certificate verify failed"), ProblemKind.PROXY_TLS, "A proxy or secure-connection problem",
     "network administrator"),
    (net.ProxyFailed("407"), ProblemKind.PROXY_TLS, "A proxy or secure-connection problem", "network administrator"),
    (net.TransportError("reset"), ProblemKind.NETWORK, "The licensing server cannot be reached", "internet"),
    (lic.LicensingOffline("no answer"), ProblemKind.NETWORK, "The licensing server cannot be reached", "internet"),
    (lic.StaleAnswer("the signed date is 3 days away from this computer's clock", 259200), ProblemKind.CLOCK,
     "This computer's clock looks wrong", "date and time"),
    (lic.BadSignature("digest mismatch"), ProblemKind.UNTRUSTED, "The answer could not be trusted", "another network"),
    (lic.ReplayedAnswer("nonce"), ProblemKind.UNTRUSTED, "The answer could not be trusted", "another network"),
    (lic.CaptivePortal("HTML page"), ProblemKind.CAPTIVE_PORTAL, "A network sign-in page is in the way", "Sign in"),
    (lic.ServerFailed("HTTP 502", 502), ProblemKind.SERVER_TROUBLE, "The licensing server had a problem", "later"),
    (lic.MalformedAnswer("not JSON"), ProblemKind.SERVER_TROUBLE, "The licensing server had a problem", "later"),
    (lic.RateLimited("slow down", 30), ProblemKind.RATE_LIMITED, "Too many attempts", "Wait"),
    (lic.SeatLimitReached("full"), ProblemKind.SEAT_LIMIT, "Every seat of this license is in use",
     "Deactivate a machine"),
    (lic.SubscriptionExpired("ended"), ProblemKind.EXPIRED, "The subscription has ended", "Renew"),
    (lic.LicenseRevoked("revoked"), ProblemKind.REVOKED, "This license was revoked", "support"),
    (lic.KeyNotFound("unknown"), ProblemKind.NOT_FOUND, "No license has this key",
     "Check the key"),
    (lic.MachineNotFound("gone"), ProblemKind.MACHINE_GONE,
     "That machine is not on the license", "machine list"),
    (lic.LicenseDenied("refused"), ProblemKind.DENIED, "The licensing server refused", "support"),
    (lic.NotActivated("this machine is not activated"), ProblemKind.NOT_ACTIVATED, "This computer is not activated",
     "Activate"),
    (lic.OfflineFileError("for another machine"), ProblemKind.OFFLINE_FILE, "The offline file cannot be used",
     "new file"),
    (lic.LeaseInvalid("edited"), ProblemKind.DAMAGED, "The license data on this computer is damaged", "Verify"),
    (StorageError("license.json is not JSON"), ProblemKind.DAMAGED, "The license data on this computer is damaged",
     "Verify"),
    (SecretStoreError("garbled"), ProblemKind.DAMAGED, "The license data on this computer is damaged", "Verify"),
    (Cancelled(), ProblemKind.CANCELLED, "You stopped waiting", "ready"),
    (lic.FingerprintError("no machine id"), ProblemKind.INTERNAL, "Something went wrong inside the app",
     "diagnostics"),
    (RuntimeError("boom"), ProblemKind.INTERNAL, "Something went wrong inside the app", "diagnostics"),
]


@pytest.mark.parametrize(("exc", "kind", "headline", "step"), TABLE, ids=[type(row[0]).__name__ for row in TABLE])
def test_every_error_class(exc: BaseException, kind: ProblemKind, headline: str, step: str) -> None:
    assert kind_of(exc) is kind
    problem = problem_for(exc)
    assert problem.headline == headline
    assert step in problem.next_step
    if kind in (ProblemKind.TYPO, ProblemKind.BAD_NAME):
        assert problem.detail.endswith("Nothing was sent.") and "nothing was sent" not in problem.next_step.lower()
    elif kind is not ProblemKind.CANCELLED:
        assert problem.detail == explain(exc)[0]  # the facts: the same words the CLI prints


def test_every_licensing_error_class_has_a_kind() -> None:
    def subclasses(root: type[BaseException]) -> set[type[BaseException]]:
        found = {root}
        for sub in root.__subclasses__():
            found |= subclasses(sub)
        return found

    internal = {lic.LicensingError, lic.FingerprintError, lic.ProtocolMismatch}  # bugs, not the user's doing
    for klass in subclasses(lic.LicensingError):
        kind = kind_of(klass.__new__(klass))
        assert (kind is ProblemKind.INTERNAL) == (klass in internal), klass


def test_a_wrong_clock_never_says_cannot_be_reached() -> None:
    actions: tuple[Action | None, ...] = (None, "activate", "verify", "deactivate")
    for action in actions:
        problem = problem_for(lic.StaleAnswer("the signed date is 3 days away", 259200), action)
        assert "cannot be reached" not in problem.headline and "clock" in problem.headline
        assert "internet connection" not in problem.next_step


@pytest.mark.parametrize(("action", "headline", "after"), [
    ("activate", "Not activated: the licensing server cannot be reached", "Nothing was activated."),
    ("verify", "Not verified: the licensing server cannot be reached", "keeps working offline"),
    ("deactivate", "Not deactivated: the licensing server cannot be reached", "still activated"),
])
def test_the_headline_names_the_action(action: Action, headline: str, after: str) -> None:
    problem = problem_for(net.ConnectFailed("refused"), action)
    assert problem.headline == headline and after in problem.next_step
    assert "Nothing changed" not in problem.next_step  # a failed verify starts the grace period


def test_a_denied_verify_does_not_promise_offline_work() -> None:
    problem = problem_for(lic.LicenseRevoked("revoked"), "verify")
    assert problem.headline == "Not verified: this license was revoked" and "offline" not in problem.next_step


def test_stopping_promises_nothing_about_the_outcome() -> None:
    actions: tuple[Action, ...] = ("activate", "verify", "deactivate")
    for action in actions:
        problem = problem_for(Cancelled(), action)
        assert problem.next_step == "Try again when you are ready."
        assert "offline" not in problem.next_step and "still activated" not in problem.next_step


def test_one_typo_wording_that_never_blames_the_last_group() -> None:
    typo = lic.KeyFormatError("the key has a typo: its last group does not match the rest", "checksum")
    problem = problem_for(typo, "activate")
    words = [problem.headline, problem.detail, problem.next_step, explain(typo)[0]]
    assert problem.headline == "Not activated: this key has a typo"
    assert explain(typo)[0] == "This key has a typo — check it against your purchase e-mail (nothing was sent)."
    assert not any("last group" in w or "does not match" in w for w in words)


def test_this_computer_deactivated_elsewhere_words() -> None:
    """Finding 8: verification told "not on the license" is about this computer, with its own next step."""
    from crystal_manager.services.usertext import ThisComputerDeactivated

    found = problem_for(ThisComputerDeactivated("this machine is not activated on the license"), "verify")
    assert found.kind is ProblemKind.DEACTIVATED_ELSEWHERE
    assert "this computer was deactivated" in found.headline and found.next_step == "Activate it again to use it here."
    assert "That machine" not in found.detail
