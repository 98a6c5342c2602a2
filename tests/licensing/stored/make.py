"""Write the stored license files of this folder with the real code: a reference server, real activations.

Run from the repository root: ``python -m tests.licensing.stored.make``. The files were made once by the code
of their time (the record and lease as a dataclass read by hand, before decision 0018 moved them to msgspec)
and are kept as they are: tests/licensing/test_stored_files.py reads them with today's code. Run this again
only to add files of a newer format, under new names; never overwrite the old ones.

Files: ``trust.json`` (the server's public license keys, to verify the leases), ``record-activated.json``
(an activation of a paid license with an entitlement), ``record-trial-checked.json`` (a trial, activated
then checked again: trial dates, check times, the clock's high-water mark),
``record-offline-pending.json`` (an offline request written, its answer not yet installed), and
``record-deactivated.json`` (the license released: no lease, the last machine id kept).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _activate(root: Path, name: str, plan: str, *, trial_days: int | None = None, check_after: bool = False,
              offline: bool = False, deactivate: bool = False) -> None:
    """One machine's home under ``root``: activate (or write an offline request), copy its license file."""
    from tests.support.licensing import context, issue, service
    from tests.support.servers import init_server_dir, run_reference_server

    home = root / name
    os.environ["CRYSTAL_MANAGER_HOME"] = str(home)
    server_dir = init_server_dir(root / f"{name}-server")
    with run_reference_server(server_dir) as server:
        lic = issue(server.data_dir, plan=plan, trial_days=trial_days)
        ctx = context(home, server.profile_file, server.url)
        svc = service(ctx, name=name)
        if offline:
            svc.write_offline_request(lic.key, root / "request.json")
        else:
            svc.activate(lic.key)
        if check_after:
            svc.verify()
        if deactivate:
            svc.deactivate()
        shutil.copyfile(ctx.paths.license_state_file, HERE / f"record-{name}.json")
        profile = json.loads(server.profile_file.read_text())
        ctx.close()
    trust = HERE / "trust.json"
    keys = json.loads(trust.read_text())["license_keys"] if trust.exists() else {}
    trust.write_text(json.dumps({"license_keys": {**keys, **profile["license_keys"]}}, indent=2, sort_keys=True)
                     + "\n")


def main() -> int:
    """Write every file (a fresh temporary home, in-memory keyring)."""
    import keyring

    from tests.support.keyring_memory import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    os.environ.pop("CRYSTAL_MANAGER_PROFILE", None)
    os.environ.pop("CRYSTAL_MANAGER_SERVER", None)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _activate(root, "activated", "pro")
        _activate(root, "trial-checked", "pro", trial_days=30, check_after=True)
        _activate(root, "offline-pending", "pro", offline=True)
        _activate(root, "deactivated", "pro", deactivate=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
