"""Connect the Privacy page to the app: the ledger (read in the background, reloaded when the file
changes), this computer's values and files, the vendor's report, export/clear, pause, and the two
deletions. Everything that touches the disk, the keyring or the network runs off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.gui.texts import tr
from crystal_manager.gui.worker import run_in_background
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from crystal_manager.services.usertext import explain

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance


class _LicenseFacts(Protocol):
    def refresh(self) -> None: ...

    @property
    def api(self) -> object: ...


class PrivacyHost(Protocol):
    """What the page needs of the app (the tray app): its context, and its license facts to re-read."""

    @property
    def ctx(self) -> AppContext: ...

    @property
    def license(self) -> _LicenseFacts: ...

    @property
    def local_changed(self) -> SignalInstance: ...

    def quit(self) -> None: ...

    def follow_files(self, on: bool) -> None: ...


class _Window:
    """The page and where to say a one-line result (the window's status bar)."""

    def __init__(self, page: PrivacyPage, say: Callable[[str], None]) -> None:
        self.privacy_page = page
        self.say = say


def wire_privacy(app: PrivacyHost, page: PrivacyPage, say: Callable[[str], None]) -> None:
    """Wire the Privacy ``page`` to ``app`` and fill it; ``say`` shows a one-line result."""
    window = _Window(page, say)
    page.set_catalog(app.ctx.catalog)
    page.refresh_requested.connect(lambda: load_ledger(app, window))
    page.refresh_requested.connect(lambda: load_facts(app, window))
    load_ledger(app, window)
    load_facts(app, window)
    watch_ledger(app, window)
    # The next check, the lease and the stored files follow every change of the license, the updates or any
    # stored file — this app's own activation as well as the CLI's.
    app.local_changed.connect(lambda _kinds: load_facts(app, window))
    page.export_requested.connect(lambda path: export_privacy(app, window, path))
    page.clear_requested.connect(lambda: clear_privacy(app, window))
    page.vendor.vendor_requested.connect(lambda: ask_vendor(app, window))
    page.choices.set_paused(app.ctx.settings.background_checks_paused)
    page.choices.pause_changed.connect(lambda on: set_paused(app, window, on))
    page.choices.delete_local_requested.connect(lambda: delete_local(app, window))
    page.choices.deletion_requested.connect(lambda every: request_deletion(app, window, every))


def _service(app: PrivacyHost) -> LicenseService | None:
    """The app's own licensing service (the same machine facts as its checks), when it is the real one."""
    api = app.license.api
    return api if isinstance(api, LicenseService) else None


def _say(window: _Window, text: str) -> None:
    window.say(text)


def load_ledger(app: PrivacyHost, window: _Window) -> None:
    """Read the ledger in the background and show it."""
    run_in_background(window.privacy_page, app.ctx.ledger.entries, on_success=window.privacy_page.set_ledger,
                      on_failure=lambda exc: _say(window, explain(exc)[0]))


def load_facts(app: PrivacyHost, window: _Window) -> None:
    """This computer's values, the next check and the stored files, read in the background."""
    from crystal_manager.services.privacy_preview import PrivacyFacts, privacy_facts

    def show(facts: PrivacyFacts) -> None:
        window.privacy_page.set_facts(facts.values, facts.next_check_at, facts.activated, facts.files,
                                      facts.keyring, lease_until=facts.lease_expires_at)

    service = _service(app)
    run_in_background(window.privacy_page, lambda: privacy_facts(app.ctx, service), on_success=show,
                      on_failure=lambda exc: _say(window, explain(exc)[0]))


def export_privacy(app: PrivacyHost, window: _Window, path: str) -> None:
    """Write the log and the catalog to ``path`` in the background; say where, or why not."""
    from pathlib import Path

    from crystal_manager.services.privacy_view import export_privacy as write_export

    def write() -> str:
        write_export(app.ctx, Path(path))
        return path

    run_in_background(window.privacy_page, write,
                      on_success=lambda done: _say(window, tr("Exported to %1").replace("%1", done)),
                      on_failure=lambda exc: _say(window, explain(exc)[0]))


def clear_privacy(app: PrivacyHost, window: _Window) -> None:
    """Delete the ledger in the background, then show the (empty) log."""
    run_in_background(window.privacy_page, app.ctx.ledger.clear, on_success=lambda _n: load_ledger(app, window),
                      on_failure=lambda exc: _say(window, explain(exc)[0]))


def watch_ledger(app: PrivacyHost, window: _Window) -> None:
    """Reload the Privacy page's log whenever the ledger changes (an activation, a check, the CLI)."""
    from PySide6.QtCore import QFileSystemWatcher

    path = app.ctx.ledger.path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    watcher = QFileSystemWatcher([str(path.parent)], window.privacy_page)
    if path.exists():
        watcher.addPath(str(path))

    def changed(_what: str) -> None:
        if path.exists() and str(path) not in watcher.files():
            watcher.addPath(str(path))  # created after the window opened, or replaced by rotation
        load_ledger(app, window)

    watcher.fileChanged.connect(changed)
    watcher.directoryChanged.connect(changed)


def ask_vendor(app: PrivacyHost, window: _Window) -> None:
    """Send the access request (the user asked) and show the vendor's answer, or why not."""
    tab = window.privacy_page.vendor
    tab.show_problem(tr("Asking the vendor…"))
    service = _service(app) or LicenseService(app.ctx)
    run_in_background(window.privacy_page, service.vendor_report, on_success=tab.set_report,
                      on_failure=lambda exc: tab.show_problem(explain(exc)[0]))


def set_paused(app: PrivacyHost, window: _Window, on: bool) -> None:
    """Save the pause choice (the scheduled checks read it before each run)."""
    app.ctx.settings.background_checks_paused = on
    try:
        app.ctx.save_settings()
    except Exception as exc:
        _say(window, explain(exc)[0])
        return
    window.privacy_page.choices.result.setText(
        tr("Background checks are paused.") if on else tr("Background checks are on again."))


def _after_deletion(app: PrivacyHost, window: _Window, text: str) -> None:
    window.privacy_page.choices.result.setText(text)
    load_ledger(app, window)
    load_facts(app, window)
    app.license.refresh()  # the license is gone here: the tray and the License page say so


def delete_local(app: PrivacyHost, window: _Window) -> None:
    """Free the seat if held, then delete every local file and the keyring entries (in the background)."""
    from crystal_manager.services.deletion import LocalDeletion, SeatNotFreed
    from crystal_manager.services.deletion import delete_local as run

    def done(result: LocalDeletion) -> None:
        words = tr("Deleted %1 files and the keyring entries.").replace("%1", str(result.files))
        if result.deactivated:
            words = tr("This computer was deactivated.") + " " + words
        window.privacy_page.choices.result.setText(words)
        # Running on would write settings and a license record again: the Manager closes.
        app.quit()

    service = _service(app)

    def failed(exc: BaseException) -> None:
        app.follow_files(True)
        if isinstance(exc, SeatNotFreed):  # before anything was deleted
            words = tr("Nothing was deleted: the seat could not be freed. %1").replace(
                "%1", explain(exc.__cause__ or exc)[0])
        else:
            words = tr("Deleting stopped: %1").replace("%1", explain(exc)[0])
        window.privacy_page.choices.result.setText(words)

    app.follow_files(False)  # nothing re-reads (and so re-writes) the license files while they are deleted
    run_in_background(window.privacy_page, lambda: run(app.ctx, service), on_success=done, on_failure=failed)


def request_deletion(app: PrivacyHost, window: _Window, every: bool) -> None:
    """Ask the vendor to delete this computer's data (or every computer's), in the background."""
    from crystal_manager.services.deletion import request_deletion as run

    def done(answer: dict[str, Any]) -> None:
        count = len(answer.get("deleted_machines") or [])
        _after_deletion(app, window, tr("The vendor deleted the data of %1 computer(s); it keeps the license "
                                        "itself.").replace("%1", str(count)))

    service = _service(app)  # on the GUI thread: the app builds its service lazily
    run_in_background(window.privacy_page, lambda: run(app.ctx, all_machines=every, service=service),
                      on_success=done,
                      on_failure=lambda exc: window.privacy_page.choices.result.setText(
                          tr("The vendor was not asked: %1").replace("%1", explain(exc)[0])))
