"""The layers of docs/architecture.md, enforced: import-linter's contracts in pyproject.toml ([tool.importlinter])
hold for the tree, and they do catch an import that points up or closes a cycle (checked on a copy)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crystal_manager", "crystal_protocol", "crystal_server")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the project's configuration on the packages under ``tree``."""
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")], cwd=tree,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy_of_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


@pytest.mark.parametrize(("module", "line", "broken"), [
    # storage/ is near the bottom: it may not use the GUI.
    ("crystal_manager/storage/paths.py", "from crystal_manager.gui import texts", "The app's layers"),
    # a type-only import counts as well
    ("crystal_manager/net/request.py",
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from crystal_manager.services import status",
     "The app's layers"),
    # licensing and updates are siblings that stay independent
    ("crystal_manager/licensing/plans.py", "from crystal_manager.updates import errors", "The app's layers"),
    # the shared definitions use neither side
    ("crystal_protocol/labels.py", "import crystal_server.store", "App and server"),
    # a cycle inside the server
    ("crystal_server/store.py", "from crystal_server import app", "No import cycles"),
])
def test_an_import_against_the_layers_breaks_a_contract(copy_of_tree: Path, module: str, line: str,
                                                        broken: str) -> None:
    path = copy_of_tree / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\n" + line + "\n", encoding="utf-8")
    try:
        result = lint_imports(copy_of_tree)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout
