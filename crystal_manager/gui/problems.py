"""A failure as the GUI shows it. The kind, headline, facts and next step of a license problem are decided
by :mod:`crystal_manager.services.problems` (Qt-free, table-tested); this only translates and renders them."""

from __future__ import annotations

from dataclasses import dataclass

from crystal_manager.gui.texts import core_words, tr
from crystal_manager.services.problems import Action, KindRules, ProblemKind, kind_of
from crystal_manager.services.problems import problem_for as core_problem
from crystal_manager.services.usertext import ACCOUNT_URL

__all__ = ["ACCOUNT_URL", "Problem", "ProblemKind", "kind_of", "problem_for"]


@dataclass(frozen=True)
class Problem(KindRules):
    """A failure as shown: headline, the facts, the advice (next step); which next steps make sense comes
    from the core's rules for its kind."""

    kind: ProblemKind
    headline: str
    detail: str
    advice: str

    @property
    def stopped(self) -> bool:
        """The user stopped waiting: shown as information, and the tray keeps the license's own state."""
        return self.kind is ProblemKind.CANCELLED

    def account_link(self) -> str:
        """The link to the account page as HTML (empty unless renewing helps)."""
        if not self.offers_account:
            return ""
        return "<br>" + tr('<a href="%1">Open your account page</a>').replace("%1", ACCOUNT_URL)


def problem_for(exc: BaseException, action: Action | None = None) -> Problem:
    """The problem to show for ``exc`` raised by ``action`` (words from the core, through tr())."""
    core = core_problem(exc, action)
    return Problem(kind=core.kind, headline=core_words(core.headline), detail=core.detail,
                   advice=core_words(core.next_step))
