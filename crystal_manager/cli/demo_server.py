"""Run the reference server as a child process on a free loopback port (demo and tests).

The app never imports the server: it starts ``python -m crystal_server`` and talks HTTP to it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


class DemoServerError(Exception):
    """The reference server could not be set up or did not come up."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``crystal-server ARGS`` and return its result (raises if it fails)."""
    proc = subprocess.run([sys.executable, "-m", "crystal_server", *args], capture_output=True, text=True,
                          env=env, check=False, timeout=60)
    if proc.returncode != 0:
        raise DemoServerError(f"crystal-server {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


@dataclass
class RunningServer:
    """A ``crystal-server serve`` child process."""

    data_dir: Path
    url: str
    process: subprocess.Popen[bytes]

    @property
    def profile_file(self) -> Path:
        """The development profile clients use."""
        return self.data_dir / "profile.json"

    def stop(self) -> None:
        """Stop the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(data_dir: Path, *, port: int | None = None, tls: tuple[Path, Path] | None = None,
                 timeout: float = 20.0) -> RunningServer:
    """Start ``serve`` on an initialised folder and wait until its health endpoint answers."""
    port = port or free_port()
    args = [sys.executable, "-m", "crystal_server", "serve", str(data_dir), "--port", str(port)]
    if tls is not None:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    server = RunningServer(data_dir=data_dir, url=url, process=process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise DemoServerError(f"server exited with {process.returncode}: {err.strip()[-500:]}")
        try:
            # Readiness probe of our own child on loopback: a TCP connect, no HTTP payload.
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise DemoServerError(f"server did not start listening on port {port} within {timeout:.0f} s")


__all__ = ["DemoServerError", "RunningServer", "free_port", "server_cli", "start_server"]
