"""The Updates page's "Manager update" line: shown only in the bundle (a frozen Manager updates itself;
one installed with pip is updated by pip, so the line is not there at all).

Both actions run ``crystal-manager update self`` as a process of its own (QProcess: no thread here): the
check waits for its JSON answer; the update is started detached, because when it succeeds the new Manager
replaces this one (``--replace``) and this process ends. If the new version does not start, that process
puts this version back and starts it again; if something fails earlier, its answer (written to a file)
is shown here in words.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QProcess, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from crystal_manager import __version__
from crystal_manager.gui.texts import tr

POLL_MS = 500
#: Longer than any download, check and start (the update process answers in every case but a kill).
GIVE_UP_MS = 30 * 60 * 1000


def own_command() -> list[str]:
    """How this Manager runs its own CLI: the bundle's program, with the same profile and server options."""
    from crystal_manager.gui.args import gui_parser

    try:
        args = gui_parser().parse_known_args(sys.argv[1:])[0]
    except SystemExit:  # e.g. --profile without its value: run the CLI with the defaults
        args = None
    passed: list[str] = []
    if args is not None and args.profile:
        passed += ["--profile", str(Path(args.profile).resolve())]
    if args is not None and args.server:
        passed += ["--server", str(args.server)]
    return [sys.executable, *passed]


class ManagerUpdateBox(QWidget):
    """"CrystalMe3D Pro Manager 0.1.0 · [Check for a Manager update]" and, when one is offered,
    "[Update the Manager to 0.2.0]". Hidden unless ``frozen``."""

    def __init__(self, parent: QWidget | None = None, *, frozen: bool | None = None,
                 command: Sequence[str] | None = None) -> None:
        """``command``: the Manager's own program and options (default: this process's, see own_command)."""
        super().__init__(parent)
        if frozen is None:
            # As updates/self_update.is_frozen(), without loading the updates code while the window builds.
            frozen = bool(getattr(sys, "frozen", False))
        self._command = list(command) if command is not None else own_command() if frozen else []
        self._offer: str | None = None
        self._polls_left = 0
        self._answer: Path | None = None
        self.label = QLabel(tr("CrystalMe3D Pro Manager %1").replace("%1", __version__))
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.check_button = QPushButton(tr("Check for a Manager update"))
        self.check_button.clicked.connect(self.check)
        self.update_button = QPushButton()
        self.update_button.clicked.connect(self.start_update)
        self.update_button.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.check_button, self.update_button):
            row.addWidget(widget)
        row.addWidget(self.state, 1)
        self._check: QProcess | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._read_answer)
        self.setVisible(frozen)
        self.setEnabled(frozen)

    def check(self) -> None:
        """Ask (in a process of its own) whether a newer Manager is offered."""
        self.check_button.setEnabled(False)
        self.state.setText(tr("Checking…"))
        process = self._check = QProcess(self)
        process.finished.connect(self._checked)
        # A program that cannot start never "finishes": its error ends the check the same way.
        process.errorOccurred.connect(lambda _error: self._checked())
        process.start(self._command[0], [*self._command[1:], "update", "self", "--check", "--json"])

    def _checked(self) -> None:
        process = self._check
        self.check_button.setEnabled(True)
        if process is None:
            return
        answer = _json(bytes(process.readAllStandardOutput().data()))
        version = answer.get("version")
        self._offer = version if answer.get("available") is True and isinstance(version, str) else None
        if self._offer is not None:
            self.state.setText(tr("Version %1 is available.").replace("%1", self._offer))
            self.update_button.setText(tr("Update the Manager to %1").replace("%1", self._offer))
        elif answer.get("frozen") is True:
            self.state.setText(tr("The Manager is up to date."))
        else:
            self.state.setText(tr("The Manager could not check for its updates; try again later."))
        self.update_button.setVisible(self._offer is not None)

    def start_update(self) -> None:
        """Start the update in a detached process: download, verify, install beside this version, start the
        new one (which replaces this one). This window shows what happens until then."""
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="crystal-manager-update-"))
        self._answer = folder / "answer.json"
        process = QProcess(self)
        process.setProgram(self._command[0])
        process.setArguments([*self._command[1:], "update", "self", "--json", "--restart-old"])
        process.setStandardOutputFile(str(self._answer))
        process.setStandardErrorFile(QProcess.nullDevice())
        started = process.startDetached()  # PySide6 answers a bool here (C++: bool with an out-param pid)
        if not (started[0] if isinstance(started, tuple) else started):
            self.state.setText(tr("The Manager update could not be started."))
            return
        self.update_button.setEnabled(False)
        self.check_button.setEnabled(False)
        self.state.setText(tr("Updating the Manager… it restarts by itself when the new version is ready."))
        self._polls_left = GIVE_UP_MS // POLL_MS
        self._poll.start()

    def _read_answer(self) -> None:
        answer = _json(self._answer.read_bytes()) if self._answer is not None and self._answer.is_file() else {}
        self._polls_left -= 1
        if not answer and self._polls_left > 0:
            return  # still working (the answer is written whole at the end)
        self._poll.stop()
        self.check_button.setEnabled(True)
        self.update_button.setEnabled(True)
        if answer.get("updated") is True and not answer.get("started"):
            self.state.setText(tr("Manager %1 is installed; it is used from the next start.")
                               .replace("%1", str(answer.get("version"))))
        elif answer.get("updated") is not True:
            message = answer.get("message")
            self.state.setText(message if isinstance(message, str) and message else
                               tr("The Manager update did not finish; this version stays."))


def _json(raw: bytes) -> dict[str, object]:
    import json

    try:
        value = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}
