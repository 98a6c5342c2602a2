"""The house rules, read from every module's imports: Qt only in the GUI, httpx only in the gateway,
the app never imports the server, the server never imports the app."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "crystal_manager"
SERVER = ROOT / "crystal_server"
PROTOCOL = ROOT / "crystal_protocol"
GATEWAY = APP / "net" / "gateway.py"
NETWORK_MODULES = {"httpx", "httpcore", "requests", "urllib3", "aiohttp", "http.client", "urllib.request",
                   "ftplib", "smtplib", "xmlrpc.client"}
QT_MODULES = {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pytestqt"}


def _tree(path: Path) -> ast.Module:
    """The file's syntax tree, parsed once per version of the file (each module is checked by six tests)."""
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1024)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (also inside functions)."""
    tree = _tree(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
    return found


def _hits(path: Path, banned: set[str]) -> set[str]:
    return {m for m in imported_modules(path) if any(m == b or m.startswith(b + ".") for b in banned)}


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _modules(APP), ids=lambda p: str(p.relative_to(ROOT)))
def test_qt_only_in_gui(path: Path) -> None:
    if (APP / "gui") in path.parents:
        return
    assert not _hits(path, QT_MODULES), f"{path.relative_to(ROOT)} imports Qt outside crystal_manager/gui"


@pytest.mark.parametrize("path", _modules(APP), ids=lambda p: str(p.relative_to(ROOT)))
def test_network_only_in_gateway(path: Path) -> None:
    if path == GATEWAY:
        return
    assert not _hits(path, NETWORK_MODULES), f"{path.relative_to(ROOT)} talks to the network itself"


@pytest.mark.parametrize("path", _modules(APP) + _modules(PROTOCOL), ids=lambda p: str(p.relative_to(ROOT)))
def test_app_never_imports_server(path: Path) -> None:
    assert not _hits(path, {"crystal_server"})


@pytest.mark.parametrize("path", _modules(SERVER) + _modules(PROTOCOL), ids=lambda p: str(p.relative_to(ROOT)))
def test_server_never_imports_app(path: Path) -> None:
    assert not _hits(path, {"crystal_manager"})


def test_gateway_is_the_one_httpx_user() -> None:
    assert "httpx" in imported_modules(GATEWAY)


def test_the_border_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from PySide6 import QtCore\n    import httpx\n")
    assert _hits(sample, QT_MODULES) == {"PySide6", "PySide6.QtCore"}
    assert _hits(sample, NETWORK_MODULES) == {"httpx"}


def test_core_does_not_load_qt_at_runtime() -> None:
    import subprocess
    import sys

    code = ("import sys, crystal_manager.services.status, crystal_manager.net.gateway, "
            "crystal_manager.cli.main; print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


TUF_MODULES = {"tuf", "securesystemslib"}
TUF_USERS = {APP / "updates" / "fetcher.py", APP / "updates" / "trust.py"}


@pytest.mark.parametrize("path", _modules(APP), ids=lambda p: str(p.relative_to(ROOT)))
def test_tuf_only_in_the_metadata_modules(path: Path) -> None:
    # ngclient brings its own urllib3 fetcher: only these two modules may build an Updater, and they
    # always hand it the gateway's fetcher (tests/updates/test_trust.py sees every request in the ledger).
    if path in TUF_USERS:
        return
    assert not _hits(path, TUF_MODULES), f"{path.relative_to(ROOT)} uses python-tuf outside updates/trust"


def test_status_paths_do_not_load_tuf() -> None:
    import subprocess
    import sys

    code = ("import sys, crystal_manager.services.status, crystal_manager.services.update_types, "
            "crystal_manager.cli.main; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tuf', 'securesystemslib', 'urllib3')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- Other ways out (issue 14): the gateway is the only way a request leaves; local uses are named. ---
#: Modules that could reach the network by themselves, banned everywhere in the app.
OTHER_WAYS_OUT = {"webbrowser", "socketserver", "asyncio.streams", "ssl.SSLSocket", "telnetlib", "poplib",
                  "imaplib", "nntplib"}
#: Raw sockets: only these local uses (a Unix socket for the single instance, a free loopback port for the
#: demo server); each says why in its own docstring.
SOCKET_USERS = {APP / "gui" / "ipc.py", APP / "gui" / "instance_server.py", APP / "cli" / "demo_server.py"}
#: QtNetwork: only the local-socket classes (single instance on Windows); no HTTP, TCP, UDP or DNS classes.
QT_LOCAL_ONLY = {"PySide6.QtNetwork.QLocalServer", "PySide6.QtNetwork.QLocalSocket"}
#: Programs that talk to the network, never to be started by the app.
NETWORK_TOOLS = {"curl", "wget", "nc", "ncat", "netcat", "ssh", "scp", "sftp", "rsync", "ftp", "telnet",
                 "bitsadmin", "certutil", "powershell", "xdg-open", "gio"}
#: Code that hands a link to the operating system (the browser), each declared as a disclosure in the
#: catalog: the release notes' links and the account page are opened by the user, not sent by the Manager.
LINK_OPENERS = {APP / "gui" / "notes_view.py", APP / "gui" / "pages" / "updates_page.py",
                APP / "gui" / "pages" / "about_page.py", APP / "gui" / "pages" / "license_page.py",
                APP / "gui" / "dialogs" / "activation.py"}


def _programs(path: Path) -> set[str]:
    """The program of every argv-like literal (a list or tuple starting with text), by its base name."""
    tree = _tree(path)
    return {Path(node.elts[0].value).name for node in ast.walk(tree)
            if isinstance(node, (ast.List, ast.Tuple)) and node.elts and isinstance(node.elts[0], ast.Constant)
            and isinstance(node.elts[0].value, str)}


@pytest.mark.parametrize("path", _modules(APP), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_other_way_out(path: Path) -> None:
    rel = path.relative_to(ROOT)
    assert not _hits(path, OTHER_WAYS_OUT), f"{rel} imports a module that reaches the network"
    if path not in SOCKET_USERS:
        assert not _hits(path, {"socket", "_socket"}), f"{rel} opens sockets (only the named local uses may)"
    qt_network = {m for m in _hits(path, {"PySide6.QtNetwork"}) if m != "PySide6.QtNetwork"}
    assert qt_network <= QT_LOCAL_ONLY, f"{rel} uses QtNetwork beyond local sockets: {qt_network - QT_LOCAL_ONLY}"
    assert not _programs(path) & NETWORK_TOOLS, f"{rel} starts a network program"
    source = path.read_text(encoding="utf-8")
    if path not in LINK_OPENERS:
        assert "openUrl" not in source and "setOpenExternalLinks(True)" not in source, \
            f"{rel} opens links in the browser without a declared disclosure"


def test_link_openers_are_declared_in_the_catalog() -> None:
    from crystal_manager.privacy.catalog import DISCLOSURES

    declared = {Path(where) for disclosure in DISCLOSURES for where in disclosure.code}
    assert {p.relative_to(ROOT) for p in LINK_OPENERS} <= declared


def test_the_other_ways_out_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import webbrowser, socket\nfrom PySide6.QtNetwork import QNetworkAccessManager\n"
                      "import subprocess\nsubprocess.run(['/usr/bin/curl', 'https://x'])\n")
    assert _hits(sample, OTHER_WAYS_OUT) == {"webbrowser"}
    assert _hits(sample, {"socket"}) == {"socket"}
    assert _hits(sample, {"PySide6.QtNetwork"}) - QT_LOCAL_ONLY == {"PySide6.QtNetwork",
                                                                    "PySide6.QtNetwork.QNetworkAccessManager"}
    assert _programs(sample) & NETWORK_TOOLS == {"curl"}
