"""Project metadata that setuptools reads without complaint, and a first ./dev run that stays quiet."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_expression_not_a_deprecated_table() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    license_field = project["project"]["license"]
    assert isinstance(license_field, str) and re.fullmatch(r"LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9.+-]+",
                                                           license_field)
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
    requires = project["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d)(\.\d+)*", r) for r in requires)  # PEP 639 support


def test_dev_keeps_the_installer_output_in_a_log() -> None:
    script = (ROOT / "dev").read_text(encoding="utf-8")
    installs = [line for line in script.splitlines() if "pip install" in line]
    assert installs and all(" -q" in line for line in installs)
    assert '>"$log" 2>&1' in script  # shown only when it fails
