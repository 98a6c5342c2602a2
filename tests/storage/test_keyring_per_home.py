"""Finding 9: each CRYSTAL_MANAGER_HOME has its own keyring entries, so a throwaway home never frees the real
home's seat; and delete-local never names keyring entries that were not there. Real CLI processes, the
reference server, and one keyring file shared by both homes (as a desktop's keyring is)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from crystal_manager.cli.exit_codes import EXIT_OK
from crystal_manager.storage.secrets import SERVICE_NAME, keyring_service
from tests.storage.file_keyring import STAND_IN_NAME
from tests.support import cli_run
from tests.support.licensing import issue
from tests.support.servers import ReferenceServer

ROOT = Path(__file__).resolve().parents[2]


def cli(home: Path, server: ReferenceServer, keyring_file: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRYSTAL_MANAGER_HOME": str(home), "CRYSTAL_MANAGER_PROFILE": str(server.profile_file),
           "CRYSTAL_MANAGER_SERVER": server.url, "PYTHONPATH": str(ROOT)}
    if keyring_file is None:
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    else:
        env.update(PYTHON_KEYRING_BACKEND="tests.storage.file_keyring.FileKeyring",
                   CM_TEST_KEYRING_FILE=str(keyring_file))
    return cli_run.run_cli(args, env=env)


def test_service_name_per_home(tmp_path: Path) -> None:
    assert keyring_service(None) == SERVICE_NAME
    one, two = keyring_service(tmp_path / "a"), keyring_service(tmp_path / "b")
    assert one != two and one.startswith(SERVICE_NAME + "-") and one == keyring_service(tmp_path / "a")


def test_a_throwaway_home_cannot_free_the_real_homes_seat(reference_server: ReferenceServer,
                                                           tmp_path: Path) -> None:
    keyring_file = tmp_path / STAND_IN_NAME
    real, throwaway = tmp_path / "real", tmp_path / "throwaway"
    real.mkdir()
    throwaway.mkdir()
    lic = issue(reference_server.data_dir)
    done = cli(real, reference_server, keyring_file, "activate", lic.key)
    assert done.returncode == EXIT_OK, done.stderr
    stored = json.loads(keyring_file.read_text())
    assert stored and all(k.startswith(keyring_service(real.resolve()) + "\x00") for k in stored)
    # the throwaway home sees no key of its own: it has nothing to deactivate or delete
    gone = cli(throwaway, reference_server, keyring_file, "privacy", "delete-local", "--yes")
    assert gone.returncode == EXIT_OK, gone.stderr
    assert "Deactivated" not in gone.stdout and "there were no keyring entries to delete" in gone.stdout
    check = cli(real, reference_server, keyring_file, "verify")
    assert check.returncode == EXIT_OK, check.stderr


def test_delete_local_without_a_keyring_names_no_entries(reference_server: ReferenceServer,
                                                         tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    lic = issue(reference_server.data_dir)
    assert cli(home, reference_server, None, "activate", lic.key).returncode == EXIT_OK
    gone = cli(home, reference_server, None, "privacy", "delete-local", "--yes")
    assert gone.returncode == EXIT_OK, gone.stderr
    assert "license_key" not in gone.stdout and "keyring entries to delete" in gone.stdout, gone.stdout
