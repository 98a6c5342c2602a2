"""The v1 fingerprint: HMAC of the machine id, hashed components, environment detection."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from crystal_manager.licensing.errors import FingerprintError
from crystal_manager.licensing.fingerprint import (
    PRODUCT_KEY,
    MachineFacts,
    _linux_machine_id,
    detect_environment,
    identify,
    read_machine_facts,
)


def facts(machine_id: str = "3d1219c7c4c5404aaa1f6d2a48adfda4") -> MachineFacts:
    return MachineFacts(machine_id=machine_id, environment="physical", os_family="Linux")


def test_fingerprint_is_versioned_hmac_of_the_machine_id() -> None:
    ident = identify(facts())
    expected = hmac.new(PRODUCT_KEY, b"v1/id:3d1219c7c4c5404aaa1f6d2a48adfda4", hashlib.sha256).hexdigest()
    assert ident.fingerprint == f"v1:{expected}"
    assert ident.version == "v1"
    # Plain SHA-256 of the id (what another product might send) is not what we send.
    assert hashlib.sha256(b"3d1219c7c4c5404aaa1f6d2a48adfda4").hexdigest() not in ident.fingerprint


def test_raw_id_appears_nowhere_in_what_is_sent() -> None:
    ident = identify(facts())
    sent = repr(ident) + ident.fingerprint
    assert "3d1219c7c4c5404aaa1f6d2a48adfda4" not in sent
    assert "3d1219c7" not in repr(facts())  # not even in a traceback


def test_nothing_else_about_the_hardware_is_read_or_sent() -> None:
    # The identity is the fingerprint, the environment and the OS family: no host name, no CPU model.
    assert set(vars(identify(facts()))) == {"version", "fingerprint", "environment", "os_family"}
    assert set(MachineFacts.__dataclass_fields__) == {"machine_id", "environment", "os_family"}
    import socket

    host = socket.gethostname()
    real = read_machine_facts()
    assert host not in repr(real) and host not in repr(identify(real))


def test_linux_reads_etc_then_dbus(tmp_path: Path) -> None:
    first, second = tmp_path / "etc-machine-id", tmp_path / "dbus-machine-id"
    second.write_text("dbus-id\n")
    assert _linux_machine_id((first, second)) == "dbus-id"
    first.write_text("etc-id\n")
    assert _linux_machine_id((first, second)) == "etc-id"
    first.write_text("")
    assert _linux_machine_id((first, second)) == "dbus-id"
    second.unlink()
    with pytest.raises(FingerprintError):
        _linux_machine_id((first, second))


def test_environment_detection(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("flags\t\t: fpu vme sse2\n")
    assert detect_environment(tmp_path) == "physical"
    (tmp_path / "proc/cpuinfo").write_text("flags\t\t: fpu vme hypervisor sse2\n")
    assert detect_environment(tmp_path) == "vm"
    (tmp_path / "proc/1").mkdir()
    (tmp_path / "proc/1/cgroup").write_text("0::/kubepods/besteffort/pod1\n")
    assert detect_environment(tmp_path) == "container"


def test_this_machine_can_be_read() -> None:
    real = read_machine_facts()
    assert real.machine_id
    assert identify(real).fingerprint == identify(read_machine_facts()).fingerprint
