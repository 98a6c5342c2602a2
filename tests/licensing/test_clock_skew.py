"""A paying user whose clock is wrong is never refused: the nonce makes an answer fresh, the server's signed
time dates everything decided online, and the clock's offset only earns a warning.

The real CLI runs in a child process under libfaketime (preloaded, ``FAKETIME=+1d``) against a real server:
forked from a zygote that has the library preloaded and reads ``FAKETIME`` at every call (tests/support/cli_run.py
``_ClockZygote``), or executed where that cannot be. Under xdist one worker runs them all, with one such zygote.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crystal_manager.cli.exit_codes import EXIT_OK
from crystal_protocol.signing import parse_time
from tests.licensing.computers import Computer, need_faketime, need_namespaces
from tests.support.faketime import offset_command
from tests.support.licensing import issue
from tests.support.servers import ReferenceServer

pytestmark = pytest.mark.xdist_group("faked-clock")

OFFSETS = {"+10m": 600, "-10m": -600, "+2h": 7200, "+1d": 86400}
WORDS = {"+10m": "10 minutes ahead of", "-10m": "10 minutes behind", "+2h": "2 hours ahead of",
         "+1d": "1 day ahead of"}


def near(stamp: str | None, moment: datetime, slack: float = 120) -> bool:
    return stamp is not None and abs((parse_time(stamp) - moment).total_seconds()) < slack


@pytest.mark.parametrize("spec", list(OFFSETS))
def test_wrong_clock_activates_and_revalidates_with_a_warning(spec: str, tmp_path: Path,
                                                              reference_server: ReferenceServer) -> None:
    need_faketime()
    lic = issue(reference_server.data_dir, seats=1)
    pc = Computer(tmp_path / "pc", "4" * 32, reference_server, clock=spec)
    done = pc.run("activate", lic.key)
    assert done.returncode == EXIT_OK, done.stderr
    assert f"this computer's clock was {WORDS[spec]} the licensing server's time" in done.stdout
    for step in ("after activation", "after re-validation"):
        status = pc.status()
        real_now = datetime.now(UTC)  # this process runs on the real clock, as the server does
        assert status["state"] == "active", step
        assert status["clock_wrong"] is True and abs(status["clock_offset_seconds"] - OFFSETS[spec]) < 60
        assert status["clock_set_back"] is False
        # Dates decided online are the server's, not the wrong local clock's.
        assert near(status["last_verified_at"], real_now), (step, status)
        assert near(status["lease_expires_at"], real_now + timedelta(days=14))
        gap = parse_time(status["next_check_at"]) - parse_time(status["last_verified_at"])
        assert timedelta(hours=21) <= gap <= timedelta(hours=27)
        again = pc.run("verify")
        assert again.returncode == EXIT_OK, again.stderr
    text = pc.run("status").stdout
    assert "Warning: at the last check this computer's clock was" in text and "license is not affected" in text


def test_right_clock_has_no_warning(tmp_path: Path, reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir, seats=1)
    pc = Computer(tmp_path / "pc", "5" * 32, reference_server)
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    status = pc.status()
    assert status["clock_wrong"] is False and abs(status["clock_offset_seconds"]) < 60
    assert "computer's clock" not in pc.run("status").stdout


def test_clock_put_right_after_a_check_is_not_a_set_back(tmp_path: Path, reference_server: ReferenceServer) -> None:
    """Checked with the clock a day ahead, then the user corrects it: no set-back, nothing lost."""
    need_faketime()
    lic = issue(reference_server.data_dir, seats=1)
    pc = Computer(tmp_path / "pc", "6" * 32, reference_server, clock="+1d")
    assert pc.run("activate", lic.key).returncode == EXIT_OK
    pc.clock = None
    status = pc.status()
    assert status["state"] == "active" and status["clock_set_back"] is False
    assert pc.run("verify").returncode == EXIT_OK
    assert pc.status()["clock_wrong"] is False


# In a private pid namespace the shell is pid 1 and `exec` keeps that pid; /dev/shm is a private tmpfs there.
_STALE = ('mount -t tmpfs none /dev/shm && : > /dev/shm/sem.faketime_sem_1 && : > /dev/shm/faketime_shm_1 '
          '&& exec "$@"')
_PRINT_TIME = "import time; print(time.time())"


def test_a_semaphore_left_under_the_childs_pid_does_not_stop_the_faked_child() -> None:
    """libfaketime leaves /dev/shm/sem.faketime_sem_PID behind when a faked process execs or is killed; with
    thousands of processes in a run, a later child gets the same pid. CI once failed on this: the ``faketime``
    wrapper refuses to start then ("sem_open: File exists"). The preloaded library the tests use does not."""
    need_faketime()
    need_namespaces()
    base = ["unshare", "-rmpf", "sh", "-c", _STALE, "sh"]
    faked = subprocess.run([*base, *offset_command("+1d", [sys.executable, "-c", _PRINT_TIME])],
                           capture_output=True, text=True, timeout=30, check=False)
    assert faked.returncode == 0, faked.stderr
    assert abs(float(faked.stdout) - time.time() - 86400) < 60
    wrapper = shutil.which("faketime")
    if wrapper is not None:  # the old way, for the record: the wrapper gives up on the stale semaphore
        old = subprocess.run([*base, wrapper, "-f", "+1d", sys.executable, "-c", _PRINT_TIME],
                             capture_output=True, text=True, timeout=30, check=False)
        assert old.returncode != 0 and "sem_open: File exists" in old.stderr, (old.returncode, old.stderr)
