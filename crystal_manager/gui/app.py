"""The GUI's life: show the tray first (or the window when there is no tray), then build the rest lazily;
route tray, window and second-launch requests; follow the tray and the palette as they change."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from crystal_manager import __version__
from crystal_manager.desktop.tray_state import TrayInputs, TrayView, UpdateActivity, decide
from crystal_manager.gui.icons import is_dark, variant_for
from crystal_manager.gui.tray import Tray
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_rules import is_activated, needs_activation
from crystal_manager.storage.atomic import StorageError
from crystal_manager.storage.paths import installed_product_version

# Only what the tray needs is imported above; the window, dialogs, licensing and keyring load after it shows.
if TYPE_CHECKING:
    from crystal_manager.desktop.autostart import Autostart
    from crystal_manager.desktop.notices import Notice
    from crystal_manager.gui.first_tray import FirstTray
    from crystal_manager.gui.instance_server import InstanceServer
    from crystal_manager.gui.license_api import LicenseApi, LicenseFacts
    from crystal_manager.gui.license_flow import LicenseFlow
    from crystal_manager.gui.local_watch import LocalWatch
    from crystal_manager.gui.notifier import Notifier
    from crystal_manager.gui.problems import Problem
    from crystal_manager.gui.texts import MenuEntry
    from crystal_manager.gui.update_api import UpdateApiFactory
    from crystal_manager.gui.update_flow import UpdateFlow
    from crystal_manager.gui.window import MainWindow
    from crystal_manager.services.status import LicenseStatus

TRAY_POLL_MS = 10_000
VERIFY_POLL_MS = 60 * 60 * 1000
UPDATE_POLL_MS = 60 * 60 * 1000  # the daily check's clock: each tick asks check_due() (on the worker)
FIRST_UPDATE_CHECK_MS = 60 * 1000  # a due check waits for the desktop to settle after start (and for tests)
log = logging.getLogger(__name__)


def default_api(ctx: AppContext) -> LicenseApi:
    """The real licensing service (imported only once the tray is up)."""
    from crystal_manager.services.license_service import LicenseService

    return LicenseService(ctx, secrets_in_status=False)


class TrayApp(QObject):
    """The controller. Signals: ``tray_shown`` / ``window_shown`` (first surface), ``started`` (lazy part
    done), ``quit_requested`` (the owner quits the event loop)."""

    tray_shown = Signal()
    window_shown = Signal()
    started = Signal()
    quit_requested = Signal()
    view_changed = Signal(object)  # TrayView
    diagnostics_copied = Signal(str)
    local_changed = Signal(object)  # frozenset of kinds (gui/local_watch.py): files changed, facts re-read

    def __init__(self, ctx: AppContext, *, api_factory: Callable[[AppContext], LicenseApi] = default_api,
                 instance: InstanceServer | None = None,
                 tray_probe: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
                 autostart_entry: Autostart | None = None, first_tray: FirstTray | None = None,
                 update_api_factory: UpdateApiFactory | None = None, parent: QObject | None = None) -> None:
        """``first_tray``: the starting icon the entry point already showed; the app adopts it.
        ``update_api_factory``: the update service (default: the real one, made on the worker)."""
        super().__init__(parent)
        self.ctx = ctx
        self.tray: Tray | None = None
        self._first_tray = first_tray
        self._window: MainWindow | None = None
        self._probe = tray_probe
        self._autostart_entry = autostart_entry
        self._api_factory = api_factory
        self.instance = instance
        self.update = UpdateActivity.IDLE
        self.error: str | None = None
        self._license: LicenseFlow | None = None
        self._notifier: Notifier | None = None
        self._tray_timer = QTimer(self)
        self._tray_timer.setInterval(TRAY_POLL_MS)
        self._tray_timer.timeout.connect(self.check_tray)
        self._verify_timer = QTimer(self)
        self._verify_timer.setInterval(VERIFY_POLL_MS)
        self._verify_timer.timeout.connect(self._scheduled_verify)
        self._update_api_factory = update_api_factory
        self._updates: UpdateFlow | None = None
        self._update_timer = QTimer(self)
        self._update_timer.setInterval(UPDATE_POLL_MS)
        self._update_timer.timeout.connect(self._scheduled_update_check)
        self._first_update_check = QTimer(self)
        self._first_update_check.setSingleShot(True)
        self._first_update_check.setInterval(FIRST_UPDATE_CHECK_MS)
        self._first_update_check.timeout.connect(self._scheduled_update_check)
        self._first_facts = True
        self._last_status: LicenseStatus | None = None
        self._watch: LocalWatch | None = None
        self.welcome: QObject | None = None
        self.quit_on_close = False  # --quit-on-close (the demo): closing the window ends the app, tray or not

    @property
    def license(self) -> LicenseFlow:
        """The license actions and facts (built after the tray shows)."""
        if self._license is None:
            from crystal_manager.gui.license_flow import LicenseFlow

            self._license = LicenseFlow(self.ctx, self._api_factory, self)
        return self._license

    def _scheduled_verify(self) -> None:
        # Through the property: the licensing parts are built only after the tray shows.
        self.license.verify_if_due()

    @property
    def updates(self) -> UpdateFlow:
        """The update actions and facts (built after the tray shows; the service loads on the worker)."""
        if self._updates is None:
            from crystal_manager.gui.update_api import default_update_api
            from crystal_manager.gui.update_flow import UpdateFlow

            self._updates = UpdateFlow(self.ctx, self._update_api_factory or default_update_api, self)
            self._updates.activity_changed.connect(self.set_update_activity)
            self._updates.notice.connect(self.notify)
        return self._updates

    def _start_updates(self) -> None:
        # After the first license facts are shown: python-tuf and the install code load on the worker then,
        # never on the way to the first picture. apply_pending() finishes an install chosen for this start.
        self.updates.start()
        self._update_timer.start()
        self._first_update_check.start()

    def _scheduled_update_check(self) -> None:
        if self._updates is not None:
            self._updates.check_if_due()

    def _update_entry(self) -> MenuEntry | None:
        return self._updates.menu_entry() if self._updates is not None else None

    @property
    def notifier(self) -> Notifier:
        """Desktop notifications (built on first use)."""
        if self._notifier is None:
            from crystal_manager.gui.notifier import Notifier

            self._notifier = Notifier(self.ctx.settings, self._deliver, self)
        return self._notifier

    @property
    def autostart_entry(self) -> Autostart:
        """This platform's login entry."""
        if self._autostart_entry is None:
            from crystal_manager.desktop.autostart import for_platform

            self._autostart_entry = for_platform()
        return self._autostart_entry

    # -- start ----------------------------------------------------------------------------------------
    def start(self, args: argparse.Namespace | None = None) -> None:
        """Show the tray (or, with no tray, the window) now; the rest after the event loop turns."""
        first, self._first_tray = self._first_tray, None
        self.quit_on_close = bool(getattr(args, "quit_on_close", False))
        if first is not None or self._probe():
            self._make_tray(first)
            self.tray_shown.emit()
        else:
            self._window_mode(show=True)
            self.window_shown.emit()
        QTimer.singleShot(0, lambda: self._finish_start(args))

    def _finish_start(self, args: argparse.Namespace | None) -> None:
        app = QApplication.instance()
        if isinstance(app, QGuiApplication):
            # Signals, not an event filter on the application: such a filter sees every event of every
            # object, and converting them for Python costs PySide type set-up during idle (decision 0012).
            # paletteChanged is deprecated in C++ (Qt 6 prefers the ApplicationPaletteChange event) but
            # still emitted; colorSchemeChanged covers desktops switching light/dark.
            # Bound methods (not lambdas): Qt drops the connections when this object goes.
            app.paletteChanged.connect(self._on_palette_changed)
            app.styleHints().colorSchemeChanged.connect(self._on_palette_changed)
        self._follow_palette()  # the desktop's colour scheme: asked only now, after the tray (decision 0012)
        if self.instance is not None:
            self.instance.arguments.connect(self.handle_argv)
            self.instance.quit_requested.connect(self.quit)
            if not self.instance.listen():  # socket.py and the notifiers: only now
                log.warning("single-instance socket %s unavailable; continuing without it", self.instance.name)
        self.license.facts_changed.connect(self._on_facts)
        self.license.failed.connect(self._on_problem)
        self.license.busy.connect(lambda text: self.window().license_page.set_busy(text or None)
                                  if self._window else None)
        self.license.privacy_requested.connect(lambda: self.open_window("privacy"))
        self.license.refresh()
        self._watch_files()
        self._tray_timer.start()
        self._verify_timer.start()
        if args is not None and getattr(args, "show", None):
            self.open_window(args.show)
        self.started.emit()

    # -- tray and window ------------------------------------------------------------------------------
    def view(self) -> TrayView:
        """What the tray shows now."""
        facts = self._license.facts if self._license is not None else None
        status = facts.status if facts else None
        return decide(TrayInputs(status, self.update, self.error), today=date.today())

    def _versions(self) -> tuple[str | None, str]:
        return installed_product_version(self.ctx.paths), __version__

    def _make_tray(self, first: FirstTray | None = None) -> None:
        # The palette alone picks the first icon; _finish_start asks the platform's colour scheme.
        variant = first.variant if first is not None else variant_for(is_dark(ask_platform=False))
        from crystal_manager.gui.texts import server_tag

        profile = self.ctx.profile
        self.tray = Tray(view=self.view(), variant=variant, versions=self._versions, first=first, parent=self,
                         update_entry=self._update_entry, tag=server_tag(profile.production, profile.server_url))
        self.tray.triggered.connect(self.handle_action)
        self.tray.show()
        QApplication.setQuitOnLastWindowClosed(False)
        if self._window is not None:
            self._window.hide_on_close = not self.quit_on_close

    def _window_mode(self, *, show: bool) -> None:
        # No tray: the window is the app; closing it quits (never an invisible process).
        QApplication.setQuitOnLastWindowClosed(True)
        window = self.window()
        window.hide_on_close = False
        if show:
            window.bring_forward()

    def window(self) -> MainWindow:
        """The main window, built on first use."""
        if self._window is None:
            from crystal_manager.gui.window import MainWindow
            from crystal_manager.gui.window_wiring import wire_window

            self._window = MainWindow()
            self._window.hide_on_close = self.tray is not None and not self.quit_on_close
            wire_window(self, self._window)
            # After the window is on screen: the licensing service loads cryptography and keyring.
            QTimer.singleShot(0, self._load_license_facts)
        return self._window

    def _load_license_facts(self) -> None:
        if not self.license.want_secrets:  # the License page says where secrets are kept
            self.license.want_secrets = True
            self.license.refresh()

    def has_window(self) -> bool:
        """True once the window was built."""
        return self._window is not None

    def open_window(self, page: str | None = None) -> MainWindow:
        """Show the window (at ``page``) and bring it forward. A window coming back into view reads the local
        facts again: the CLI or another tool may have activated, updated or rolled back meanwhile."""
        if self._window is not None and not self._window.isVisible():
            self._reread_local_facts()
        window = self.window()
        if page and page != "main":
            window.show_page(page)
        window.bring_forward()
        return window

    def _reread_local_facts(self) -> None:
        self.license.refresh()
        if self._updates is not None and not self._updates.busy:
            self._updates.refresh(reevaluate=True)

    # -- following the files --------------------------------------------------------------------------
    def _watch_files(self) -> None:
        # Another process (the CLI, a second Manager) and this app's own actions change the same files:
        # following the files keeps every page and the tray on what is stored now, whoever wrote it.
        from crystal_manager.gui.local_watch import LocalWatch

        self._watch = LocalWatch(self.ctx.paths, self)
        self._watch.changed.connect(self._on_local_change)

    def follow_files(self, on: bool) -> None:
        """Stop (or start again) following the stored files: while "Delete everything here" runs, a read
        of the license state in between could write part of it back."""
        if self._watch is not None:
            self._watch.suspended = not on

    def look_again(self) -> None:
        """Compare the stored files with what is shown (the window was activated): cheap when nothing
        changed, and it catches a change a platform's file watcher missed."""
        if self._watch is not None:
            self._watch.poll()

    def _on_local_change(self, kinds: frozenset[str]) -> None:
        from crystal_manager.gui.local_watch import LICENSE, LICENSE_FACTS, UPDATES

        if LICENSE in kinds:
            self.license.refresh()
        license_moved = bool(kinds & {LICENSE, LICENSE_FACTS})
        if (license_moved or UPDATES in kinds) and self._updates is not None and not self._updates.busy:
            # The license decides what may be offered: the last check is decided again, without the network.
            self._updates.refresh(reevaluate=license_moved)
        self.local_changed.emit(kinds)

    def check_tray(self) -> None:
        """Follow the tray host: it may appear late in a session, or go away."""
        available = self._probe()
        if available and self.tray is None:
            self._make_tray()
        elif not available and self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None
            self._window_mode(show=True)

    def _on_palette_changed(self, _what: object) -> None:
        self._follow_palette()

    def _follow_palette(self) -> None:
        if self.tray is not None:
            self.tray.set_variant(variant_for(is_dark()))

    # -- requests -------------------------------------------------------------------------------------
    def handle_action(self, action: str) -> None:
        """A tray or window menu action."""
        if action == "open":
            self.open_window()
        elif action == "privacy":
            self.open_window("privacy")
        elif action == "check_updates":
            self.open_window("updates")
            self.updates.check()  # what the menu line says (a no-op while another update action runs)
        elif action == "download_update":
            self.updates.download()
        elif action == "install_update":
            self.updates.confirm_install(self.open_window("updates"))
        elif action == "activate":
            self.license.open_activation(self.open_window("license"))
        elif action == "verify":  # the tray's way out of Locked: the page shows the answer
            self.open_window("license")
            self.license.verify_now()
        elif action == "quit":
            self.quit()

    def handle_argv(self, argv: list[str]) -> None:
        """A second launch handed over its arguments: bring the window forward at the page asked for."""
        from crystal_manager.gui.args import gui_parser

        try:
            args, _rest = gui_parser().parse_known_args(argv)
        except SystemExit:  # bad arguments from the other process: still show the window
            args = argparse.Namespace(show=None)
        if self._window is not None and self._window.isVisible():
            self._reread_local_facts()  # open_window re-reads only a window that was hidden
        self.open_window(args.show)

    def quit(self) -> None:
        """Leave: stop listening, hide the tray, ask the owner to end the event loop."""
        from crystal_manager.gui.worker import QUIT_WAIT_MS, wait_for_all

        self._tray_timer.stop()
        self._verify_timer.stop()
        self._update_timer.stop()
        self._first_update_check.stop()
        if self._updates is not None:
            self._updates.pause()  # the partial file stays; the next start resumes from there
        if self.instance is not None:
            self.instance.close()
        if self.tray is not None:
            self.tray.hide()
        wait_for_all(QUIT_WAIT_MS)  # before the context closes: running operations use its gateway
        self.ctx.close()
        self.quit_requested.emit()

    # -- facts ----------------------------------------------------------------------------------------
    def _on_facts(self, facts: LicenseFacts) -> None:
        from crystal_manager.desktop.notices import license_notices

        old = self._last_status
        self._last_status = facts.status
        self.error = None
        self._render()  # first: the bubble carries the tray's icon, which must already show the NEW state
        for notice in license_notices(old, facts.status, today=date.today()):
            self.notify(notice)
        if old is not None and (old.state, old.lease_expires_at) != (facts.status.state,
                                                                     facts.status.lease_expires_at):
            # An activation, a verify or a deactivation changed what updates are allowed and what the
            # Privacy page says is scheduled: those pages follow now, not at their next refresh.
            from crystal_manager.gui.local_watch import LICENSE_FACTS

            self._on_local_change(frozenset({LICENSE_FACTS}))
        if (old is not None and old.state != "locked" and facts.status.state == "locked"
                and not self._first_facts):
            # Locked while running (a damaged license file, a lease run out): the page promises a check with
            # the stored key, so ask now through the start's path (it sends nothing while checks are
            # paused). Only on the change into Locked: a check that fails leaves it locked, and no loop.
            self.license.verify_if_due()
        if self.welcome is not None:  # an open welcome offers what fits the license now
            from crystal_manager.gui.dialogs.welcome import WelcomeDialog  # loaded already: it is open

            if isinstance(self.welcome, WelcomeDialog) and self.welcome.isVisible():
                self.welcome.set_needs_activation(needs_activation(facts.status.state))
        if self._first_facts:
            self._first_facts = False
            if is_activated(facts.status.state):
                self.license.verify_if_due()
            self._maybe_welcome(facts.status.state)
            self._start_updates()

    def _on_problem(self, problem: Problem) -> None:
        # "Stop waiting" is no failure: the tray keeps showing the license as it stands (never a red warning).
        self.error = None if problem.stopped else problem.detail
        self._render()
        if self._window is not None:
            self._window.license_page.set_problem(problem)
        if self._first_facts:
            self._first_facts = False
            self._maybe_welcome("not_activated")
            self._start_updates()

    def _render(self) -> None:
        view = self.view()
        if self.tray is not None:
            self.tray.set_view(view)
        if self._window is not None:
            self._window.license_page.set_facts(self.license.facts)
            if self.error is None:
                self._window.license_page.set_problem(None)
        self.view_changed.emit(view)

    def set_update_activity(self, activity: UpdateActivity) -> None:
        """The updates feature reports what it is doing."""
        self.update = activity
        self._render()

    def notify(self, notice: Notice) -> bool:
        """Show a notification if its toggle is on."""
        return self.notifier.notify(notice)

    def _deliver(self, title: str, body: str, level: str = "info") -> None:
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.notify(title, body, level)
        else:
            self.window().statusBar().showMessage(f"{title} — {body}", 30_000)

    def _maybe_welcome(self, state: str) -> None:
        if self.ctx.settings.welcome_done:
            return
        from crystal_manager.gui.dialogs.welcome import WelcomeDialog

        dialog = WelcomeDialog(needs_activation=needs_activation(state))
        dialog.activate_requested.connect(lambda: self.handle_action("activate"))
        dialog.privacy_requested.connect(lambda: self.open_window("privacy"))
        dialog.finished.connect(lambda _r: self._welcome_done())
        self.welcome = dialog
        dialog.open()

    def _welcome_done(self) -> None:
        self.ctx.settings.welcome_done = True
        try:
            self.ctx.save_settings()
        except (OSError, StorageError) as exc:
            from crystal_manager.services.usertext import explain

            self._on_problem_text(explain(exc)[0])

    def _on_problem_text(self, text: str) -> None:
        if self._window is not None:
            self._window.statusBar().showMessage(text, 30_000)
