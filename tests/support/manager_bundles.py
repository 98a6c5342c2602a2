"""Frozen-like Manager bundles for the self-update tests: a folder with ``product.json`` (product
``crystal-manager``) and a ``crystal-manager`` program, packed as a release archive and published to the
real reference server with ``crystal-server release publish --product crystal-manager``.

The program is a small Python script that behaves as the Manager does at the points the self-update
touches: ``--version`` prints ``crystal-manager V``; with no arguments it holds the real single-instance
name (crystal_manager.gui.ipc) and quits when asked; ``--replace`` asks the running one to quit, takes the
name and reports ready with the real ``report_ready`` (crystal_manager.updates.self_update).
Every start and quit is appended to ``$CRYSTAL_MANAGER_HOME/instances.log``.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Literal

from crystal_protocol.releases import current_platform
from tests.support.product_archives import file_member, write_archive
from tests.support.servers import ReferenceServer

Behaviour = Literal["ok", "bad_version", "start_fails"]
REPO = Path(__file__).resolve().parents[2]

_PROGRAM = '''#!{python}
import os, sys
sys.path.insert(0, {repo!r})
VERSION = {version!r}
BEHAVIOUR = {behaviour!r}
if sys.argv[1:2] == ["--version"]:
    print("crystal-manager " + VERSION)
    sys.exit(1 if BEHAVIOUR == "bad_version" else 0)
from crystal_manager.gui import ipc
from crystal_manager.storage.paths import resolve_paths
name = ipc.server_name(resolve_paths())
log = os.path.join(os.environ["CRYSTAL_MANAGER_HOME"], "instances.log")
def note(text):
    with open(log, "a") as f:
        f.write(VERSION + " " + text + "\\n")
if "--replace" in sys.argv:
    if not ipc.ask_to_quit(name):
        sys.exit(1)
    if BEHAVIOUR == "start_fails":
        note("crashed")
        sys.exit(3)
claimed = ipc.claim(name)
if claimed is None:
    sys.exit(4)
note("up")
from crystal_manager.updates.self_update import report_ready
report_ready(VERSION)  # the real answer to the start check, with its checks of the path
import socket
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(claimed.sock.fileno()))
while True:
    conn, _ = server.accept()
    try:
        line = conn.recv(65536)
        if line:
            conn.sendall(b'{{"ok": true}}\\n')
    except OSError:  # a probe that connects and leaves (ipc.is_listening)
        line = b""
    conn.close()
    if b'"quit"' in line:
        note("quit")
        claimed.release()
        sys.exit(0)
'''


def program(version: str, behaviour: Behaviour = "ok") -> bytes:
    """The stand-in Manager program's text."""
    return _PROGRAM.format(python=sys.executable, repo=str(REPO), version=version, behaviour=behaviour).encode()


def manifest(version: str, product: str = "crystal-manager") -> bytes:
    """A bundle's product.json, as build/package.sh writes it."""
    return json.dumps({"product": product, "version": version, "platform": current_platform(),
                       "health_check": ["crystal-manager", "--version"]}).encode()


def bundle_archive(folder: Path, version: str, behaviour: Behaviour = "ok",
                   product: str = "crystal-manager") -> Path:
    """A release archive of a frozen-like Manager bundle."""
    members = [file_member("product.json", manifest(version, product)),
               file_member("crystal-manager", program(version, behaviour), 0o755)]
    folder.mkdir(parents=True, exist_ok=True)
    return write_archive(folder / f"{product}-{version}-{behaviour}.tar.gz", members)


def unpack(archive: Path, target: Path) -> Path:
    """Unpack a bundle archive into ``target`` (a bundle unpacked by hand, as a user does the first time)."""
    target.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


def publish_bundle(server: ReferenceServer, version: str, behaviour: Behaviour = "ok",
                   product: str = "crystal-manager") -> Path:
    """Pack and publish one Manager release with the real ``crystal-server release publish``."""
    archive = bundle_archive(server.data_dir.parent / "manager-archives", version, behaviour, product)
    proc = server.admin("release", "publish", str(server.data_dir), str(archive), "--product", product,
                        "--version", version, "--platform", current_platform(), "--patches", "0")
    assert proc.returncode == 0, proc.stderr
    return archive
