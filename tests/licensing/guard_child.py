"""Child process for test_guard_secret_service.py: runs inside a private D-Bus session with gnome-keyring.

argv: HOME PROFILE_FILE SERVER_URL SERVER_DIR KEY LICENSE_ID. Prints one JSON object of observations.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import timedelta
from pathlib import Path

from crystal_manager.cli.demo_server import free_port
from crystal_manager.licensing.errors import LicenseRevoked, LicensingOffline
from crystal_manager.net.errors import TransportError
from tests.support.licensing import Clock, context_at, server_cli, service


def main() -> None:
    home, profile, url, server_dir, key, license_id = sys.argv[1:7]
    ctx = context_at(Path(home), Path(profile), url)
    seen: dict[str, object] = {"backend": ctx.secrets.info.name, "fallback": ctx.secrets.is_fallback}
    clock = Clock()
    start = clock.value
    svc = service(ctx, clock=clock)
    svc.activate(key)
    path = ctx.paths.license_state_file
    young = path.read_bytes()
    down = service(ctx, clock=clock, url=f"http://127.0.0.1:{free_port()}")
    clock.advance(days=12)
    with contextlib.suppress(LicensingOffline, TransportError):
        down.verify()
    clock.value = start + timedelta(days=1)  # set back 11 days
    seen["set_back"] = down.status().clock_set_back
    data = json.loads(path.read_text())
    data.update(high_water=None, high_water_seen_at=None, clock_set_back_at=None)
    path.write_text(json.dumps(data))
    seen["set_back_after_clearing"] = down.status().clock_set_back
    path.write_bytes(young)
    seen["set_back_after_restoring"] = down.status().clock_set_back
    clock.value = start + timedelta(days=4)
    seen["state_3_days_later"] = down.status().state
    # Signed revocation, then the active-era file restored.
    clock.value = start
    back = service(ctx, clock=Clock())
    back.verify()
    before = path.read_bytes()
    server_cli("license", "revoke", server_dir, license_id)
    try:
        back.verify()
    except LicenseRevoked:
        seen["revoked"] = True
    path.write_bytes(before)
    seen["state_after_restore"] = back.status().state
    path.unlink()
    seen["state_after_delete"] = back.status().state
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
