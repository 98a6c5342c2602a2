"""The status report both faces show: versions, profile, license facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crystal_manager import __version__
from crystal_manager.licensing.plans import plan_name
from crystal_manager.services.context import AppContext
from crystal_manager.storage.paths import installed_product_version as read_installed_version

__all__ = ["AppStatus", "LicenseStatus", "ProfileStatus", "app_status", "installed_product_version",
           "plan_name", "plan_words"]


@dataclass(frozen=True)
class LicenseStatus:
    """License facts as shown to people; every field is None until known."""

    state: str = "not_activated"
    plan: str | None = None
    expires_at: str | None = None
    renews_at: str | None = None
    trial_days_left: int | None = None
    grace_days_left: float | None = None
    seats_used: int | None = None
    seats_total: int | None = None
    last_verified_at: str | None = None
    next_check_at: str | None = None
    key_hint: str | None = None
    message: str | None = None
    machine_id: str | None = None
    lease_expires_at: str | None = None
    max_version: str | None = None
    offline_activation: bool = False
    clock_set_back: bool = False
    #: This computer's clock minus the licensing server's time at the last answer (seconds), and whether that
    #: is more than a few minutes: a warning only, the license works either way.
    clock_offset_seconds: int | None = None
    clock_wrong: bool = False
    secrets_backend: str | None = None
    secrets_fallback: bool | None = None


@dataclass(frozen=True)
class ProfileStatus:
    """Which trust profile is in use."""

    name: str
    production: bool
    server_url: str
    source: str | None


@dataclass(frozen=True)
class AppStatus:
    """The whole report."""

    manager_version: str
    product_version: str | None
    profile: ProfileStatus
    license: LicenseStatus = field(default_factory=LicenseStatus)

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``status --json``."""
        return asdict(self)


def plan_words(plan: object) -> str:
    """A plan as people say it: ``pro`` -> "Pro plan" (the server's identifier is never shown raw)."""
    name = plan_name(str(plan)) if plan else None
    return f"{name} plan" if name else "plan unknown"


def installed_product_version(ctx: AppContext) -> str | None:
    """The version of CrystalMe3D Pro installed under the product root, or None."""
    return read_installed_version(ctx.paths)


def app_status(ctx: AppContext, license_status: LicenseStatus | None = None) -> AppStatus:
    """Assemble the status report (reads local state only; no network)."""
    profile = ctx.profile
    return AppStatus(
        manager_version=__version__,
        product_version=installed_product_version(ctx),
        profile=ProfileStatus(name=profile.name, production=profile.production,
                              server_url=profile.server_url,
                              source=str(profile.source) if profile.source else None),
        license=license_status or LicenseStatus(),
    )


def check_key_store(ctx: AppContext, lic: LicenseStatus) -> LicenseStatus:
    """Read the stored key of an activated machine from the user-only fallback file, so damage shows at
    status time and not at the next verify: a damaged file is set aside (kept for support), and the license
    is reported as needing the key again, saying what was damaged and where the copy is. The keyring
    proper is not probed here (reading it may prompt the user)."""
    from crystal_manager.services.license_rules import is_activated

    store = ctx.opened_secrets
    path = store.fallback_path if store is not None else None
    if path is None or store is None or not is_activated(lic.state):
        return lic
    from crystal_manager.licensing.engine import KEY_SECRET
    from crystal_manager.storage.secrets import SecretStoreError, set_aside

    kept: Path | None = None
    try:
        key = store.get(KEY_SECRET)
    except SecretStoreError:
        from datetime import UTC, datetime

        # None when the damage is gone already: another check of this app set it aside in between (the
        # License page's own read and the one the file watch started run at once) — its copy is named below.
        kept = set_aside(path, now=datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
        key = None
    if key:
        return lic
    kept = kept or _newest(list(path.parent.glob(f"{path.name}.damaged-*")))
    if kept is not None:
        what = (f"the file holding the license key was damaged and could not be read; it was kept as "
                f"{kept}")
    else:
        what = f"the license key is missing from {path}"
    ending = f" (the one ending in {lic.key_hint})" if lic.key_hint else ""
    # Not activated here any more: no seats or key shown as if in use (they would contradict the state); the
    # message names the key to type again.
    return replace(lic, state="not_activated", plan=None, seats_used=None, seats_total=None, key_hint=None,
                   max_version=None,
                   message=f"{what}. Activate again with your key{ending}: this computer keeps its seat")


def _newest(copies: list[Path]) -> Path | None:
    """The newest damaged copy, by when its file was written (by name "…Z-10" would sort before "…Z-2")."""
    def when(copy: Path) -> tuple[int, int, str]:
        try:
            return (1, copy.stat().st_mtime_ns, copy.name)
        except OSError:  # removed meanwhile (a deletion): the last choice
            return (0, 0, copy.name)

    return max(copies, key=when, default=None)
