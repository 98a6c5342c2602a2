"""Real servers for tests: the reference server as a child process, and TLS material from trustme."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crystal_manager.cli.demo_server import RunningServer, start_server


@dataclass
class ReferenceServer:
    """A running reference server and where its files are."""

    running: RunningServer

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def data_dir(self) -> Path:
        return self.running.data_dir

    @property
    def profile_file(self) -> Path:
        return self.running.profile_file

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``crystal-server ARGS`` against this server's folder (no check of the exit code)."""
        return subprocess.run([sys.executable, "-m", "crystal_server", *args], capture_output=True,
                              text=True, check=False, timeout=60)


def init_server_dir(path: Path, *, url: str | None = None, tls_ca: Path | None = None) -> Path:
    """Run ``crystal-server init`` for real."""
    args = [sys.executable, "-m", "crystal_server", "init", str(path)]
    if url:
        args += ["--url", url]
    if tls_ca:
        args += ["--tls-ca", str(tls_ca)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return path


@contextmanager
def run_reference_server(data_dir: Path, *, port: int | None = None,
                         tls: tuple[Path, Path] | None = None) -> Iterator[ReferenceServer]:
    """Serve ``data_dir`` in a child process for the duration of the block (a fresh port unless given).

    Clients use ``ReferenceServer.url``; the profile's own URL is only right when ``port`` matches it.
    """
    running = start_server(data_dir, port=port or 0, tls=tls)
    try:
        yield ReferenceServer(running)
    finally:
        running.stop()
