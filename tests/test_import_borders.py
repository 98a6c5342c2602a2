"""The house rules, read from every module's imports: Qt only in the GUI, httpx only in the gateway,
the app never imports the server, the server never imports the app."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "crystal_manager"
SERVER = ROOT / "crystal_server"
PROTOCOL = ROOT / "crystal_protocol"
GATEWAY = APP / "net" / "gateway.py"
NETWORK_MODULES = {"httpx", "httpcore", "requests", "urllib3", "aiohttp", "http.client", "urllib.request",
                   "ftplib", "smtplib", "xmlrpc.client"}
QT_MODULES = {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pytestqt"}


@dataclass(frozen=True)
class _Facts:
    """What the rules read from one file's syntax tree."""

    imports: frozenset[str]  # every module it imports, at any depth (also inside functions)
    programs: frozenset[str]  # the program of every argv-like literal, by its base name


def _facts(path: Path) -> _Facts:
    """The file's facts, read once per version of the file (each module is checked by several rules, and a
    walk over its tree cost more than the parse)."""
    stat = path.stat()
    return _read_facts(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1024)
def _read_facts(path: Path, _mtime_ns: int, _size: int) -> _Facts:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    programs: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
        elif isinstance(node, (ast.List, ast.Tuple)) and node.elts and isinstance(node.elts[0], ast.Constant) \
                and isinstance(node.elts[0].value, str):
            programs.add(Path(node.elts[0].value).name)
    return _Facts(frozenset(found), frozenset(programs))


def imported_modules(path: Path) -> frozenset[str]:
    """Every module a file imports, at any depth (also inside functions)."""
    return _facts(path).imports


def _hits(path: Path, banned: set[str]) -> set[str]:
    return {m for m in imported_modules(path) if any(m == b or m.startswith(b + ".") for b in banned)}


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if ROOT in path.parents else str(path)


def qt_outside_gui(paths: list[Path]) -> list[str]:
    """Modules outside crystal_manager/gui that import Qt."""
    return [f"{_rel(p)} imports Qt outside crystal_manager/gui" for p in paths
            if (APP / "gui") not in p.parents and _hits(p, QT_MODULES)]


def network_outside_gateway(paths: list[Path]) -> list[str]:
    """Modules other than the gateway that import a network client."""
    return [f"{_rel(p)} talks to the network itself" for p in paths if p != GATEWAY and _hits(p, NETWORK_MODULES)]


def importing(paths: list[Path], banned: str) -> list[str]:
    """Modules that import ``banned`` (a package)."""
    return [f"{_rel(p)} imports {sorted(_hits(p, {banned}))}" for p in paths if _hits(p, {banned})]


# One test per rule over every module (a parametrized test per module was 745 tests, most of the file's time
# in pytest's own bookkeeping); each failure names every module that breaks the rule.
def test_qt_only_in_gui() -> None:
    assert not qt_outside_gui(_modules(APP))


def test_network_only_in_gateway() -> None:
    assert not network_outside_gateway(_modules(APP))


def test_app_never_imports_server() -> None:
    assert not importing(_modules(APP) + _modules(PROTOCOL), "crystal_server")


def test_server_never_imports_app() -> None:
    assert not importing(_modules(SERVER) + _modules(PROTOCOL), "crystal_manager")


def test_gateway_is_the_one_httpx_user() -> None:
    assert "httpx" in imported_modules(GATEWAY)


def test_the_border_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from PySide6 import QtCore\n    import httpx\n")
    assert _hits(sample, QT_MODULES) == {"PySide6", "PySide6.QtCore"}
    assert _hits(sample, NETWORK_MODULES) == {"httpx"}
    # Each rule's check over a list of modules names the one that breaks it, and only that one.
    clean = tmp_path / "clean.py"
    clean.write_text("import json\n")
    tuf_user = tmp_path / "tuf_user.py"
    tuf_user.write_text("from tuf.ngclient import Updater\nimport crystal_server.cli, crystal_manager\n")
    assert qt_outside_gui([clean, sample]) == [f"{sample} imports Qt outside crystal_manager/gui"]
    assert network_outside_gateway([sample, clean]) == [f"{sample} talks to the network itself"]
    assert tuf_outside_metadata_modules([clean, tuf_user]) == [f"{tuf_user} uses python-tuf outside updates/trust"]
    assert importing([clean, tuf_user], "crystal_server") == [f"{tuf_user} imports ['crystal_server.cli']"]
    assert importing([tuf_user], "crystal_manager") == [f"{tuf_user} imports ['crystal_manager']"]
    # The rules' exceptions are where they say: the GUI may import Qt, the gateway httpx.
    assert not qt_outside_gui([APP / "gui" / "app.py"]) and _hits(APP / "gui" / "app.py", QT_MODULES)
    assert not network_outside_gateway([GATEWAY])


def test_core_does_not_load_qt_at_runtime() -> None:
    import subprocess
    import sys

    code = ("import sys, crystal_manager.services.status, crystal_manager.net.gateway, "
            "crystal_manager.cli.main; print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


TUF_MODULES = {"tuf", "securesystemslib"}
TUF_USERS = {APP / "updates" / "fetcher.py", APP / "updates" / "trust.py"}


def tuf_outside_metadata_modules(paths: list[Path]) -> list[str]:
    """Modules other than the two metadata modules that use python-tuf."""
    return [f"{_rel(p)} uses python-tuf outside updates/trust" for p in paths
            if p not in TUF_USERS and _hits(p, TUF_MODULES)]


def test_tuf_only_in_the_metadata_modules() -> None:
    # ngclient brings its own urllib3 fetcher: only these two modules may build an Updater, and they
    # always hand it the gateway's fetcher (tests/updates/test_trust.py sees every request in the ledger).
    assert not tuf_outside_metadata_modules(_modules(APP))


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


def _programs(path: Path) -> frozenset[str]:
    """The program of every argv-like literal (a list or tuple starting with text), by its base name."""
    return _facts(path).programs


def other_ways_out(path: Path) -> list[str]:
    """Every way ``path`` could reach the network besides the gateway (empty: none)."""
    rel = _rel(path)
    found = []
    if _hits(path, OTHER_WAYS_OUT):
        found.append(f"{rel} imports a module that reaches the network")
    if path not in SOCKET_USERS and _hits(path, {"socket", "_socket"}):
        found.append(f"{rel} opens sockets (only the named local uses may)")
    qt_network = {m for m in _hits(path, {"PySide6.QtNetwork"}) if m != "PySide6.QtNetwork"}
    if not qt_network <= QT_LOCAL_ONLY:
        found.append(f"{rel} uses QtNetwork beyond local sockets: {sorted(qt_network - QT_LOCAL_ONLY)}")
    if _programs(path) & NETWORK_TOOLS:
        found.append(f"{rel} starts a network program")
    source = path.read_text(encoding="utf-8")
    if path not in LINK_OPENERS and ("openUrl" in source or "setOpenExternalLinks(True)" in source):
        found.append(f"{rel} opens links in the browser without a declared disclosure")
    return found


def test_no_other_way_out() -> None:
    assert not [problem for path in _modules(APP) for problem in other_ways_out(path)]


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
    sample.write_text(sample.read_text() + "QDesktopServices.openUrl(x)\n")
    assert other_ways_out(sample) == [
        f"{sample} imports a module that reaches the network",
        f"{sample} opens sockets (only the named local uses may)",
        f"{sample} uses QtNetwork beyond local sockets: ['PySide6.QtNetwork.QNetworkAccessManager']",
        f"{sample} starts a network program",
        f"{sample} opens links in the browser without a declared disclosure"]
    assert not other_ways_out(APP / "gui" / "ipc.py")  # a named socket user
