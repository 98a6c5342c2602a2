"""The "copy diagnostics" report: enough to help with a problem, nothing secret or personal.

Redacted: the license key shows only its hint (last four characters); the user's home folder becomes
``~``; no machine ID, no ledger contents (only counts).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from crystal_manager.services.context import AppContext
from crystal_manager.services.status import AppStatus


def _home_to_tilde(text: str, home: str) -> str:
    return text.replace(home, "~") if home and home != "/" else text


def diagnostics_report(ctx: AppContext, status: AppStatus, *, secrets_backend: str | None,
                       extra: dict[str, str] | None = None) -> str:
    """Plain text to paste into a support request."""
    lic = status.license
    profile = status.profile
    lines = [
        "CrystalMe3D Pro Manager diagnostics",
        f"manager_version: {status.manager_version}",
        f"product_version: {status.product_version or 'not installed'}",
        f"python: {platform.python_version()} ({sys.platform}, {platform.machine()})",
        f"os: {platform.system()} {platform.release()}",
        f"profile: {profile.name} ({'production' if profile.production else 'NOT production'})",
        f"server: {profile.server_url}",
        f"license.state: {lic.state}",
        f"license.plan: {lic.plan or '-'}",
        f"license.expires_at: {lic.expires_at or '-'}",
        f"license.renews_at: {lic.renews_at or '-'}",
        f"license.last_verified_at: {lic.last_verified_at or '-'}",
        f"license.next_check_at: {lic.next_check_at or '-'}",
        f"license.key_hint: {lic.key_hint or '-'}",
        f"secrets_backend: {secrets_backend or 'not opened'}",
        f"config_dir: {ctx.paths.config_dir}",
        f"log_dir: {ctx.paths.log_dir}",
        f"ledger_entries: {len(ctx.ledger.entries())}",
        f"autostart: {ctx.settings.autostart}",
        f"notifications_off: {', '.join(k for k, v in ctx.settings.notifications.items() if not v) or '-'}",
    ]
    lines += [f"{k}: {v}" for k, v in sorted((extra or {}).items())]
    return _home_to_tilde("\n".join(lines) + "\n", str(Path.home()))
