"""The suite across pytest-xdist workers: what a whole-run check (the secret-leak scan) needs to see.

Under ``-n N`` every worker has its own temporary folder (``<run>/popen-gwK``) and its own set of issued
keys. Each worker, when it finishes, leaves the runs of key characters in its own folder's files
(tests/support/leak_scan.py), the keys it issued and a "done" mark in a folder the controller made outside
the run's temporary folder (so the list of keys is never itself scanned). The scan, the last test of the
run, waits for every other worker's mark, then covers the whole run's folder (reading again any file that
changed since its worker read it) and every key.
Without xdist all of this is the one process's own folder and keys.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.leak_scan import FileRuns, load_folder_runs, save_folder_runs

#: The key in ``workerinput`` naming the shared folder.
SHARED = "crystal_shared_dir"
_STASH = pytest.StashKey[Path]()
_FOLDER = pytest.StashKey[Path]()


def worker_id(config: pytest.Config) -> str | None:
    """This process's xdist worker id (``gw0``…), or None when not a worker."""
    workerinput: dict[str, object] | None = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


def make_shared_dir(config: pytest.Config) -> Path:
    """The controller's folder for the workers' marks (made once, removed by ``remove_shared_dir``)."""
    if _STASH not in config.stash:
        config.stash[_STASH] = Path(tempfile.mkdtemp(prefix="crystal-test-workers-"))
    return config.stash[_STASH]


def remove_shared_dir(config: pytest.Config) -> None:
    """Remove the controller's shared folder, if it made one."""
    path = config.stash.get(_STASH, None)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def _shared(config: pytest.Config) -> Path:
    workerinput: dict[str, object] = config.workerinput  # type: ignore[attr-defined]
    return Path(str(workerinput[SHARED]))


def remember_folder(config: pytest.Config, folder: Path) -> None:
    """This worker's own temporary folder (its ``popen-gwK``), read for runs when the worker is done."""
    config.stash[_FOLDER] = folder


def mark_done(config: pytest.Config, keys: set[str]) -> None:
    """A worker has run all its tests: leave its folder's runs and its keys, then its mark (in that order:
    the mark means all of them)."""
    wid = worker_id(config)
    if wid is None:
        return
    shared = _shared(config)
    folder = config.stash.get(_FOLDER, None)
    if folder is not None:
        save_folder_runs(folder, shared / f"runs-{wid}.pickle")
    (shared / f"keys-{wid}.txt").write_text("".join(f"{key}\n" for key in sorted(keys)), encoding="utf-8")
    (shared / f"done-{wid}").touch()


def whole_run(config: pytest.Config, factory: pytest.TempPathFactory, keys: set[str],
              timeout: float = 500.0) -> tuple[Path, set[str], dict[str, FileRuns]]:
    """The folder holding every file this run's tests wrote, every key issued in the run, and the runs the
    other workers read from their folders when they finished (``leak_scan.folder_runs``'s ``known``).

    Under xdist: after every other worker has finished (waits for their marks up to ``timeout``).
    """
    wid = worker_id(config)
    if wid is None:
        return factory.getbasetemp(), set(keys), {}
    shared = _shared(config)
    workerinput: dict[str, object] = config.workerinput  # type: ignore[attr-defined]
    count = int(str(workerinput["workercount"]))
    others = {f"gw{index}" for index in range(count)} - {wid}
    deadline = time.monotonic() + timeout
    # Polling a folder: the other workers are separate processes with nothing else to signal through.
    while not all((shared / f"done-{other}").exists() for other in others):
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers still running after {timeout:.0f} s: {sorted(others)}")
        time.sleep(0.2)
    found = set(keys)
    known: dict[str, FileRuns] = {}
    for other in others:
        found.update(line for line in (shared / f"keys-{other}.txt").read_text(encoding="utf-8").splitlines() if line)
        if (shared / f"runs-{other}.pickle").exists():
            known.update(load_folder_runs(shared / f"runs-{other}.pickle"))
    return factory.getbasetemp().parent, found, known

