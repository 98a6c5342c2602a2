"""The layers of docs/architecture.md, enforced: import-linter's contracts in pyproject.toml ([tool.importlinter])
hold for the tree, and they do catch an import that points up or closes a cycle (checked on a copy).

Each check is a ``lint-imports --no-cache pyproject.toml`` run in the tree's folder, as CI's would be: one
process imports import-linter once (~0.25 s of CPU, most of a run) and forks a child per check, which changes
to the folder, puts it first on ``sys.path`` (what ``lint-imports`` does) and calls ``lint_imports_command``,
the command's own entry point; its exit status and output are the check's. Each check builds its own graph
in its own child (nothing of one check's analysis reaches the next), on the copy with one bad import added
for that check and taken out after it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crystal_manager", "crystal_protocol", "crystal_server")

pytestmark = pytest.mark.xdist_group("layers")  # one worker runs every check in one process

# Given a JSON list of [folder, file, line]: ``lint-imports --no-cache PYPROJECT`` in each folder, in a child
# forked from here, with ``line`` added to ``file`` (when given) for that check only.
RUNNER = """
import json, os, sys, tempfile
from importlinter.cli import lint_imports_command
checks, config = json.loads(sys.argv[1]), sys.argv[2]
results = []
for folder, path, line in checks:
    original = None
    if path is not None:
        with open(path, encoding="utf-8") as source:
            original = source.read()
        with open(path, "w", encoding="utf-8") as source:
            source.write(original + "\\n" + line + "\\n")
    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            os.chdir(folder)
            sys.argv[:] = ["lint-imports", "--no-cache", config]
            try:
                lint_imports_command()  # click: ends with SystemExit(status)
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else 1
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        results.append([os.waitstatus_to_exitcode(status), out.read().decode()])
    if original is not None:
        with open(path, "w", encoding="utf-8") as source:
            source.write(original)
print(json.dumps(results))
"""

BREAKS = [
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
]


def lint_imports(checks: list[tuple[Path, Path | None, str | None]]) -> list[subprocess.CompletedProcess[str]]:
    """``lint-imports --no-cache`` with the project's configuration on the packages under each folder of
    ``checks`` (folder, file, line): for a check that names a file, with ``line`` added to it meanwhile."""
    spec = json.dumps([[str(folder), None if path is None else str(path), line] for folder, path, line in checks])
    proc = subprocess.run([sys.executable, "-c", RUNNER, spec, str(ROOT / "pyproject.toml")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [subprocess.CompletedProcess(["lint-imports", str(folder)], code, out, "")
            for (folder, _p, _l), (code, out) in zip(checks, json.loads(proc.stdout), strict=True)]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """The check of this tree (``"tree"``), and of a copy of it once with each line of BREAKS (by module)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    checked = lint_imports([(ROOT, None, None), *((tree, tree / module, line) for module, line, _b in BREAKS)])
    return {"tree": checked[0], **{module: result for (module, _l, _b), result in zip(BREAKS, checked[1:],
                                                                                        strict=True)}}


def test_the_tree_keeps_every_contract(results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = results["tree"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), BREAKS)
def test_an_import_against_the_layers_breaks_a_contract(results: dict[str, subprocess.CompletedProcess[str]],
                                                        module: str, line: str, broken: str) -> None:
    result = results[module]
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout
