"""Shared fixtures: an isolated app folder, a real reference server process, an in-memory keyring."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from crystal_manager.services.context import AppContext
from tests.support import workers
from tests.support.keyring_memory import MemoryKeyring
from tests.support.server_template import copy_server_dir, make_template
from tests.support.servers import ReferenceServer, run_reference_server

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A run started in the background by a shell without job control (``cmd &`` in a script) has SIGINT ignored,
# and an ignored signal stays ignored in every child: the tests that press Ctrl-C on the CLI (test_waiting,
# test_update_cli, test_ledger_first) would then see children that cannot be interrupted. Python's own
# handler here makes exec'd children start with the default action again, as from a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Hypothesis's timing checks (a 200 ms deadline per example, "input generation is slow") judge the machine's
# load, not the code: the suite runs more workers than there are cores (./dev), and one run failed
# test_record_shapes's health check with nothing wrong. The properties and their example counts are unchanged;
# speed is measured in bench/.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``CRYSTAL_MANAGER_HOME``; no profile or server override leaks in from the environment."""
    home = tmp_path / "app-home"
    home.mkdir()
    monkeypatch.setenv("CRYSTAL_MANAGER_HOME", str(home))
    monkeypatch.delenv("CRYSTAL_MANAGER_PROFILE", raising=False)
    monkeypatch.delenv("CRYSTAL_MANAGER_SERVER", raising=False)
    return home


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Install an in-memory keyring backend for the test."""
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def server_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every ``server_dir`` is copied from (never served or changed itself)."""
    return make_template(tmp_path_factory.mktemp("server-template"))


@pytest.fixture
def server_dir(tmp_path: Path, server_template: Path) -> Path:
    """A folder as made by ``crystal-server init`` (not yet serving): this test's own copy of one made once
    per test process (tests/support/server_template.py); ``init_server_dir`` gives fresh keys."""
    return copy_server_dir(server_template, tmp_path / "server")


@pytest.fixture
def reference_server(server_dir: Path) -> Iterator[ReferenceServer]:
    """``crystal-server serve`` as a separate process on a free loopback port."""
    with run_reference_server(server_dir) as server:
        yield server


@pytest.fixture
def lic_ctx(app_home: Path, reference_server: ReferenceServer, memory_keyring: MemoryKeyring) -> Iterator[AppContext]:
    """An app context (own home, in-memory keyring) pointed at a running reference server."""
    from tests.support.licensing import context

    ctx = context(app_home, reference_server.profile_file, reference_server.url)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def upd_ctx(app_home: Path, reference_server: ReferenceServer) -> Iterator[AppContext]:
    """An app context (own home) pointed at a running reference server, for the update tests."""
    from tests.support.licensing import context

    ctx = context(app_home, reference_server.profile_file, reference_server.url)
    try:
        yield ctx
    finally:
        ctx.close()


#: Under pytest-xdist (``./dev test`` runs ``--dist loadgroup``) the tests of each of these files stay
#: on one worker: their module-scoped fixtures build a wheel or a bundle, which must happen once, not once
#: per worker at the same time.
_ONE_WORKER_PER_FILE = ("tests/build/",)
#: Fixtures made once for the tests that share them: a file whose tests use one stays on one worker too, or
#: each worker that drew one of its tests would make it again (a template server, a CA, a translation).
_SHARED_SCOPES = frozenset({"module", "package", "class"})


def _uses_a_shared_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(defs and defs[-1].scope in _SHARED_SCOPES
                                    for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``run_last`` (the leak scan) run after everything else (under xdist: are handed out
    last, and wait for the other workers; tests/support/workers.py)."""
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            path = item.nodeid.split("::", 1)[0]
            if item.get_closest_marker("xdist_group") is None and (
                    path.startswith(_ONE_WORKER_PER_FILE) or _uses_a_shared_fixture(item)):
                item.add_marker(pytest.mark.xdist_group(path))


@pytest.hookimpl(trylast=True)  # after xdist's worker has named each grouped test "NODEID@GROUP"
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under ``--dist loadgroup``, stop at once if xdist lost the groups (it does with pytest 9.2,
    pytest-xdist#1386): each worker would then build the wheel and the bundle again, in parallel."""
    if workers.worker_id(session.config) is None or not session.config.getvalue("loadgroup"):
        return
    lost = [item.nodeid for item in session.items
            if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(f"pytest-xdist did not group {len(lost)} tests (e.g. {lost[0]}): "
                                "use the pytest version constraints.txt pins")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where the workers leave their marks."""
    node.workerinput[workers.SHARED] = str(workers.make_shared_dir(node.config))


@pytest.fixture(scope="session", autouse=True)
def _worker_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each xdist worker's own temporary folder, read for the leak scan when the worker is done."""
    if workers.worker_id(request.config) is not None:
        workers.remember_folder(request.config, tmp_path_factory.getbasetemp())


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker leaves the keys it issued and its mark; the controller removes the shared folder."""
    from tests.support.licensing import ISSUED_KEYS

    if workers.worker_id(session.config) is not None:
        workers.mark_done(session.config, ISSUED_KEYS)
    else:
        workers.remove_shared_dir(session.config)
