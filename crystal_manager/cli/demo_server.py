"""Run the reference server as a child process on a free loopback port (demo and tests).

The app never imports the server: it starts ``python -m crystal_server`` and talks HTTP to it.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
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


def server_batch(commands: list[list[str]], env: dict[str, str] | None = None, *,
                 meanwhile: Callable[[], object] | None = None) -> list[subprocess.CompletedProcess[str]]:
    """Run several ``crystal-server`` commands in one process (``crystal-server batch``: one interpreter start
    instead of one per command); their results in order (raises if one fails, naming it). ``meanwhile`` is
    called here while the batch runs (work of the caller's that can overlap it)."""
    import json
    import tempfile

    argv = [sys.executable, "-m", "crystal_server", "batch"]
    with tempfile.TemporaryFile() as given:  # the whole input is there at once: the batch never waits for it
        given.write(json.dumps(commands).encode())
        given.seek(0)
        with subprocess.Popen(argv, stdin=given, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) as batch:
            try:
                if meanwhile is not None:
                    meanwhile()
                out, err = batch.communicate(timeout=60 + 30 * len(commands))
            except BaseException:
                batch.kill()
                raise
    proc = subprocess.CompletedProcess(argv, batch.returncode, out, err)
    try:
        results = json.loads(proc.stdout) if proc.stdout.strip() else []
    except ValueError:
        results = []
    done = [subprocess.CompletedProcess([sys.executable, "-m", "crystal_server", *r["args"]], r["code"], r["stdout"],
                                        r["stderr"]) for r in results]
    if proc.returncode != 0 or len(done) != len(commands):
        last = done[-1] if done else proc
        step = done[-1].args[3] if done else "batch"
        raise DemoServerError(f"crystal-server {step} failed: {last.stderr.strip() or last.stdout.strip()}")
    return done


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


def start_server(data_dir: Path, *, port: int = 0, tls: tuple[Path, Path] | None = None,
                 timeout: float = 20.0, extra: Sequence[str] = ()) -> RunningServer:
    """Start ``serve`` on an initialised folder (port 0: any free port) and wait until it listens.
    ``extra``: more ``serve`` options (``--trusted-proxy ADDR``…).

    The server prints ``listening on URL`` once its socket is bound; a port in use makes it exit with
    a message, so we can never mistake another process on that port for our child. Its log goes to
    ``DIR/server.log`` (a pipe nobody reads could fill up and stall it).
    """
    args = [sys.executable, "-m", "crystal_server", "serve", str(data_dir), "--port", str(port)]
    if tls is not None:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    args += extra
    log_path = data_dir / "server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    ready = selectors.DefaultSelector()
    ready.register(process.stdout, selectors.EVENT_READ)
    line = b""
    if ready.select(timeout):
        line = process.stdout.readline()
    ready.close()
    process.stdout.close()
    text = line.decode(errors="replace").strip()
    if not text.startswith("listening on "):
        if process.poll() is None:
            process.kill()
        process.wait()
        err = log_path.read_text(errors="replace").strip().splitlines()[-3:]
        raise DemoServerError(f"server did not start (exit {process.returncode}): {' '.join(err)[-500:]}")
    url = text.removeprefix("listening on ")
    return RunningServer(data_dir=data_dir, url=url, process=process)


__all__ = ["DemoServerError", "RunningServer", "free_port", "server_batch", "server_cli", "start_server"]
