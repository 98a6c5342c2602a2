"""Helpers for licensing tests: issue real licenses through the admin CLI, fixed machines, a settable clock.

Every key issued here is remembered in ISSUED_KEYS so the leak test can grep for all of them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crystal_manager.licensing.clock import BootReading
from crystal_manager.licensing.fingerprint import MachineFacts
from crystal_manager.net.gateway import Gateway, GatewayConfig
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
from tests.support.servers import admin_cli

ISSUED_KEYS: set[str] = set()

FAST = GatewayConfig(connect_timeout=2.0, read_timeout=1.5, deadline=2.0, max_attempts=1)


def server_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``crystal-server ARGS`` (exit code not checked; in this process, see ``admin_cli``)."""
    return admin_cli(*args)


@dataclass(frozen=True)
class Issued:
    """A license made by ``crystal-server license create``."""

    key: str
    license_id: str


def issue(server_dir: Path, *, plan: str = "pro", seats: int = 2, expires: str = "2099-01-01",
          trial_days: int | None = None, max_version: str | None = "2.9") -> Issued:
    """Create a license with the real admin CLI and parse the key it prints."""
    args = ["license", "create", str(server_dir), "--plan", plan, "--seats", str(seats), "--expires", expires]
    if trial_days is not None:
        args += ["--trial-days", str(trial_days)]
    if max_version:
        args += ["--max-version", max_version]
    proc = server_cli(*args)
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    ISSUED_KEYS.add(values["key"])
    return Issued(key=values["key"], license_id=values["license"])


def machine(name: str, *, machine_id: str | None = None,
            environment: str = "physical") -> Callable[[], MachineFacts]:
    """A fixed machine for the fingerprint code (the HMAC code under test is the real one)."""
    facts = MachineFacts(machine_id=machine_id or f"{name}-machine-id-0000", environment=environment,
                         os_family="Linux")
    return lambda: facts


class BootClock:
    """A settable boot-time source for the ``boot`` seam (clock.read_boot's model): one boot id, seconds
    since boot that only move when the test moves them."""

    def __init__(self, boot_id: str = "0f3c2a1e-test-boot", uptime: float = 1000.0) -> None:
        self.boot_id, self.uptime = boot_id, uptime

    def __call__(self) -> BootReading:
        return BootReading(self.boot_id, self.uptime)

    def advance(self, **delta: float) -> None:
        self.uptime += timedelta(**delta).total_seconds()


class Clock:
    """A settable clock for the ``now`` seam; starts at real time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.value = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += timedelta(**delta)


def context(home: Path, profile_file: Path, url: str) -> AppContext:
    """An AppContext for ``home`` (from $CRYSTAL_MANAGER_HOME) using a server's profile and URL."""
    ctx = AppContext.create(profile_file=str(profile_file), server_url=url)
    assert str(ctx.paths.state_dir).startswith(str(home))
    return ctx


def service(ctx: AppContext, *, name: str = "alpha", clock: Callable[[], datetime] | None = None,
            url: str | None = None, facts: Callable[[], MachineFacts] | None = None,
            config: GatewayConfig | None = None, ca_file: Path | None = None,
            boot: Callable[[], BootReading | None] | None = None) -> LicenseService:
    """A LicenseService for one fixed machine, talking to ``url`` (default: the profile's server)."""
    gateway = None
    if url is not None or config is not None:
        gateway = Gateway(base_url=url or ctx.profile.server_url, ledger=ctx.ledger, catalog=ctx.catalog,
                          ca_file=ca_file or ctx.profile.tls_ca_file, config=config or FAST, sleep=lambda _s: None)
    return LicenseService(ctx, gateway=gateway, now=clock, machine=facts or machine(name), boot=boot)


def context_at(root: Path, profile_file: Path, url: str) -> AppContext:
    """An AppContext whose folders are all under ``root`` (a second machine's home in one test)."""
    from crystal_manager.config.profile import load_profile_file
    from crystal_manager.config.settings import Settings
    from crystal_manager.storage.paths import AppPaths

    paths = AppPaths(config_dir=root / "config", data_dir=root / "data", state_dir=root / "state",
                     cache_dir=root / "cache", log_dir=root / "logs", install_root=root / "product")
    return AppContext(paths=paths, settings=Settings(), profile=load_profile_file(profile_file).with_server(url))
