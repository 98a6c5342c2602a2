"""The GUI's log file: the user's alone (also after a rollover), records uncaught exceptions, started once."""

from __future__ import annotations

import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crystal_manager.storage import logfile


@pytest.fixture
def clean_logging() -> Iterator[None]:
    logger = logging.getLogger("crystal_manager")
    handlers, level, hook = list(logger.handlers), logger.level, sys.excepthook
    yield
    for handler in logger.handlers:
        if handler not in handlers:
            handler.close()
    logger.handlers[:] = handlers
    logger.setLevel(level)
    sys.excepthook = hook


def test_log_files_are_private_and_rotate(tmp_path: Path, clean_logging: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logfile, "MAX_BYTES", 2048)
    path = logfile.start_log_file(tmp_path / "logs")
    assert path is not None
    log = logging.getLogger("crystal_manager.test")
    for n in range(200):
        log.warning("line %d with some words to fill the file", n)
    files = sorted((tmp_path / "logs").iterdir())
    assert [f.name for f in files] == ["manager.log", "manager.log.1", "manager.log.2"]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert f.stat().st_size <= 2048 + 200
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
    assert "line 199" in path.read_text()


@pytest.mark.qt_no_exception_capture  # pytest-qt's own hook would fail the test on the chained call
def test_uncaught_exceptions_are_logged_and_a_second_start_adds_nothing(tmp_path: Path, clean_logging: None,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = logfile.start_log_file(tmp_path / "logs")
    assert path is not None and logfile.start_log_file(tmp_path / "logs") == path
    try:
        raise ValueError("from a Qt slot, say")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    text = path.read_text()
    assert text.count("uncaught exception") == 1 and "ValueError: from a Qt slot, say" in text
    assert "ValueError" in capsys.readouterr().err  # the previous hook still runs


def test_an_unwritable_folder_means_no_log_not_a_crash(tmp_path: Path, clean_logging: None) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert logfile.start_log_file(blocker / "logs") is None
