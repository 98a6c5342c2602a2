"""The machine fingerprint (v1): HMAC-SHA256 of the OS machine id with a product key — and nothing else.

The raw machine id never leaves this module's callers' memory: only the HMAC is sent. The product key is not
a secret (it ships in the app); it only makes our identifier differ from every other product's, so it
cannot be joined with other data. Nothing else about the hardware is read or sent: no host name, no CPU
model, no MAC address (the host and CPU hashes once sent could be reversed with a small dictionary, since
the key ships in the app). A computer whose machine id changed is handled by moving the seat
(``previous_fingerprint``, or deactivating the old machine from the machine list).
"""

from __future__ import annotations

import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystal_manager.licensing.errors import FingerprintError

FINGERPRINT_VERSION = "v1"
PRODUCT_KEY = b"CrystalMe3D Pro / machine fingerprint / 2025"
LINUX_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
_MAC_UUID = re.compile(r'"IOPlatformUUID"\s*=\s*"([0-9A-Fa-f-]{36})"')


@dataclass(frozen=True)
class MachineFacts:
    """Raw facts about this machine. Kept in memory only; never sent, stored or logged."""

    machine_id: str
    environment: str  # physical, vm or container
    os_family: str

    def __repr__(self) -> str:  # keep the raw id out of tracebacks and logs
        return f"MachineFacts(os_family={self.os_family!r}, environment={self.environment!r})"


@dataclass(frozen=True)
class MachineIdentity:
    """What is sent: the versioned fingerprint, the environment and the OS family."""

    version: str
    fingerprint: str
    environment: str
    os_family: str


def _hmac(label: str, value: str) -> str:
    import hashlib  # here: OpenSSL (~3.5 MiB) loads only when a fingerprint is made
    import hmac

    return hmac.new(PRODUCT_KEY, f"{label}:{value}".encode(), hashlib.sha256).hexdigest()


def identify(facts: MachineFacts, version: str = FINGERPRINT_VERSION) -> MachineIdentity:
    """Hash the facts into what the server sees."""
    if version != "v1":
        raise FingerprintError(f"unknown fingerprint version {version}")
    return MachineIdentity(version=version, fingerprint=f"v1:{_hmac('v1/id', facts.machine_id.strip().lower())}",
                           environment=facts.environment, os_family=facts.os_family)


def _linux_machine_id(files: tuple[Path, ...] = LINUX_ID_FILES) -> str:
    for path in files:
        try:
            value = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value:
            return value
    raise FingerprintError("no machine id in /etc/machine-id or /var/lib/dbus/machine-id")


def _mac_machine_id() -> str:
    try:
        # Absolute path, no shell: nothing from the environment decides what runs.
        out = subprocess.run(["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"], capture_output=True,
                             text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise FingerprintError(f"ioreg failed: {exc}") from exc
    found = _MAC_UUID.search(out)
    if not found:
        raise FingerprintError("ioreg reported no IOPlatformUUID")
    return found.group(1)


def _windows_machine_id() -> str:
    import importlib

    winreg: Any = importlib.import_module("winreg")  # Windows only; typed loosely so mypy passes elsewhere
    try:
        flags = winreg.KEY_READ | winreg.KEY_WOW64_64KEY
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography", 0, flags) as key:
            value, _kind = winreg.QueryValueEx(key, "MachineGuid")
    except OSError as exc:
        raise FingerprintError(f"cannot read MachineGuid: {exc}") from exc
    return str(value)


def read_machine_id(system: str | None = None) -> str:
    """The OS machine id: Linux machine-id file, macOS IOPlatformUUID, Windows MachineGuid."""
    system = system or platform.system()
    readers: dict[str, Callable[[], str]] = {"Darwin": _mac_machine_id, "Windows": _windows_machine_id}
    return readers.get(system, _linux_machine_id)()


def detect_environment(root: Path = Path("/")) -> str:
    """container, vm or physical: from container marker files, cgroups, the hypervisor CPU flag and DMI."""
    if (root / ".dockerenv").exists() or (root / "run/.containerenv").exists():
        return "container"
    try:
        cgroups = (root / "proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
        if any(word in cgroups for word in ("docker", "kubepods", "containerd", "lxc", "libpod")):
            return "container"
    except OSError:
        pass
    try:
        flags = (root / "proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        if re.search(r"^flags\s*:.*\bhypervisor\b", flags, re.MULTILINE):
            return "vm"
    except OSError:
        pass
    try:
        vendor = (root / "sys/class/dmi/id/sys_vendor").read_text(encoding="utf-8", errors="replace").lower()
        if any(word in vendor for word in ("qemu", "vmware", "virtualbox", "xen", "innotek", "parallels")):
            return "vm"
    except OSError:
        pass
    return "physical"


def os_family() -> str:
    """Linux, Windows or macOS."""
    return {"Darwin": "macOS", "Windows": "Windows"}.get(platform.system(), "Linux")


def read_machine_facts() -> MachineFacts:
    """Collect this machine's raw facts."""
    return MachineFacts(machine_id=read_machine_id(), environment=detect_environment(), os_family=os_family())
