"""The health check of an installed version: its own ``product.json`` command, run from its folder, must
exit 0 within the time limit and print the version it claims to be."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

from crystal_manager.updates.errors import HealthCheckFailed
from crystal_protocol.releases import ProductManifest

_OUTPUT_MAX = 64 * 1024  # read at most this much of what the product prints


def _kill(process: subprocess.Popen[bytes]) -> None:
    # The product may have started children of its own: on POSIX they share its session and go with it.
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:
        pass
    process.wait()


def _prints_version(text: str, version: str) -> bool:
    # "1.2.0" as a word of its own: not inside "11.2.0", "1.2.0-beta" or "1.2.0.1".
    return re.search(rf"(?<![\w.-]){re.escape(version)}(?![\w-]|\.\w)", text) is not None


def run_health_check(version_dir: Path, manifest: ProductManifest, *, timeout: float = 30.0) -> None:
    """Run the version's health check; HealthCheckFailed says in one line why it did not pass."""
    label = f"version {manifest.version}"
    program = version_dir / manifest.health_check[0]
    try:
        real = program.resolve(strict=True)
        inside = real.is_relative_to(version_dir.resolve(strict=True))
    except OSError:
        raise HealthCheckFailed(f"{label} did not start: {manifest.health_check[0]} is missing") from None
    if not inside or not real.is_file():
        raise HealthCheckFailed(f"{label} did not start: {manifest.health_check[0]} is not a program in its folder")
    with tempfile.TemporaryFile() as output:  # a file, not a pipe: bounded memory whatever it prints
        try:
            process = subprocess.Popen([str(program), *manifest.health_check[1:]], cwd=version_dir,
                                       stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.DEVNULL,
                                       start_new_session=os.name == "posix")
        except OSError as exc:
            raise HealthCheckFailed(f"{label} did not start: {exc.strerror or exc}") from exc
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise HealthCheckFailed(f"{label} did not answer its health check within {timeout:g} s") from None
        except BaseException:
            _kill(process)
            raise
        output.seek(0)
        text = output.read(_OUTPUT_MAX).decode("utf-8", errors="replace")
    if code != 0:
        raise HealthCheckFailed(f"{label} failed its health check (exit code {code})")
    if not _prints_version(text, manifest.version):
        raise HealthCheckFailed(f"{label} started but did not report version {manifest.version}")
