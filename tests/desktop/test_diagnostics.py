"""The diagnostics report is useful and redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from crystal_manager.desktop.diagnostics import diagnostics_report
from crystal_manager.services.context import AppContext
from crystal_manager.services.status import LicenseStatus, app_status


def test_report_has_the_facts_and_no_home_path(app_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(app_home.parent))
    ctx = AppContext.create()
    ctx.settings.notifications["update_failed"] = False
    status = app_status(ctx, LicenseStatus(state="active", plan="Pro", key_hint="…7F3A"))
    text = diagnostics_report(ctx, status, secrets_backend="memory")
    assert "license.state: active" in text and "license.key_hint: …7F3A" in text
    assert "profile: production (production)" in text
    assert "notifications_off: update_failed" in text
    assert str(app_home.parent) not in text and "config_dir: ~/app-home/config" in text
