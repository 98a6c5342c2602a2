"""Connect the window's pages to the app: each page's requests to an action, and the first data in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtGui import QGuiApplication

from crystal_manager.desktop import autostart
from crystal_manager.desktop.diagnostics import diagnostics_report
from crystal_manager.gui.window import MainWindow
from crystal_manager.gui.worker import run_in_background
from crystal_manager.services.status import app_status
from crystal_manager.services.usertext import explain

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from crystal_manager.desktop.autostart import Autostart
    from crystal_manager.gui.license_flow import LicenseFlow
    from crystal_manager.gui.update_flow import UpdateFlow
    from crystal_manager.services.context import AppContext


class WindowHost(Protocol):
    """What the window's wiring needs from the app (:class:`crystal_manager.gui.app.TrayApp` is one). The
    app imports this module; this module never imports the app, so the dependency runs one way."""

    ctx: AppContext

    @property
    def license(self) -> LicenseFlow: ...
    @property
    def updates(self) -> UpdateFlow: ...
    @property
    def autostart_entry(self) -> Autostart: ...
    @property
    def diagnostics_copied(self) -> SignalInstance: ...
    @property
    def local_changed(self) -> SignalInstance: ...
    def handle_action(self, action: str) -> None: ...
    def quit(self) -> None: ...
    def window(self) -> MainWindow: ...
    def look_again(self) -> None: ...
    def follow_files(self, on: bool) -> None: ...


def wire_window(app: WindowHost, window: MainWindow) -> None:
    """Wire every page of ``window`` to ``app`` and fill it."""
    ctx = app.ctx
    window.action.connect(app.handle_action)
    window.closed.connect(app.quit)
    window.activated.connect(app.look_again)
    page = window.license_page
    page.activate_requested.connect(lambda: app.license.open_activation(window))
    page.verify_requested.connect(app.license.verify_now)
    page.deactivate_requested.connect(lambda: app.license.deactivate_this(window))
    page.machines_requested.connect(lambda: app.license.open_machines(window))
    page.stop_requested.connect(app.license.stop_waiting)
    page.set_facts(app.license.facts)

    wire_updates(app, window)

    from crystal_manager.gui.pages.privacy_wiring import wire_privacy

    wire_privacy(app, window.privacy_page, lambda text: window.statusBar().showMessage(text, 30_000))

    settings = window.settings_page
    settings.set_settings(ctx.settings, autostart_location=app.autostart_entry.location,
                          autostart_words=autostart.in_words(app.autostart_entry))
    settings.autostart_changed.connect(lambda on: set_autostart(app, window, on))
    settings.notification_changed.connect(lambda event, on: set_notification(app, event, on))

    about = window.about_page
    about.set_status(app_status(ctx), config_dir=str(ctx.paths.config_dir), log_dir=str(ctx.paths.log_dir))
    about.copy_requested.connect(lambda: copy_diagnostics(app, window))
    about.quit_requested.connect(app.quit)


def wire_updates(app: WindowHost, window: MainWindow) -> None:
    """The Updates page's requests to the update flow; the flow's facts to the page."""
    page, flow = window.updates_page, app.updates
    page.check_requested.connect(flow.check)
    page.download_requested.connect(flow.download)
    page.pause_requested.connect(flow.pause)
    page.resume_requested.connect(flow.resume)
    page.cancel_requested.connect(flow.cancel)
    page.install_requested.connect(flow.install)
    page.install_later_requested.connect(lambda: flow.install(at_next_start=True))
    page.rollback_requested.connect(lambda: flow.rollback(window))
    page.skip_requested.connect(flow.skip)
    page.channel_changed.connect(flow.set_channel)
    page.auto_check_changed.connect(flow.set_auto_check)
    flow.facts_changed.connect(page.set_facts)
    page.set_facts(flow.facts)


def set_autostart(app: WindowHost, window: MainWindow, on: bool) -> None:
    """Apply and save the user's autostart choice; on failure show why, and the real state."""
    error: str | None = None
    try:
        autostart.apply(on, app.autostart_entry)
    except Exception as exc:
        error = explain(exc)[0]
    app.ctx.settings.autostart = app.autostart_entry.is_enabled()
    try:
        app.ctx.save_settings()
    except Exception as exc:
        error = error or explain(exc)[0]
    window.settings_page.set_settings(app.ctx.settings, autostart_location=app.autostart_entry.location,
                                      autostart_words=autostart.in_words(app.autostart_entry))
    if error is not None:
        window.settings_page.show_autostart_error(error)


def set_notification(app: WindowHost, event: str, on: bool) -> None:
    """Save one notification toggle."""
    app.ctx.settings.notifications[event] = on
    try:
        app.ctx.save_settings()
    except Exception as exc:
        app.window().statusBar().showMessage(explain(exc)[0], 30_000)


def copy_diagnostics(app: WindowHost, window: MainWindow) -> None:
    """Build the redacted report in the background and put it on the clipboard."""
    ctx = app.ctx
    status = app_status(ctx, app.license.facts.status if app.license.facts else None)

    def build() -> str:
        try:
            backend: str | None = ctx.secrets.info.name
        except Exception as exc:  # the report must still come out when the keyring is broken
            backend = f"unavailable ({type(exc).__name__})"
        return diagnostics_report(ctx, status, secrets_backend=backend)

    def done(text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        window.about_page.show_copied(True)
        app.diagnostics_copied.emit(text)

    def failed(exc: BaseException) -> None:
        window.about_page.show_copied(False, explain(exc)[0])

    run_in_background(window, build, on_success=done, on_failure=failed)


