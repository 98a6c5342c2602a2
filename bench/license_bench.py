"""P7: licensing costs (issue 9).

1. Activation round trip on loopback: ``LicenseService.activate`` (key check, claim, the gateway with its
   catalog check and ledger, the signed answer and lease verified, the record and the keyring copy written)
   against a bare ``httpx`` POST of the same body to the same server plus one Ed25519 verify of the answer's
   signature. Same server, same machine (a known machine re-activates), interleaved runs. Goal ≤ 1.5x.
2. The offline license check at start: ``LicenseService(..., secrets_in_status=False).status()`` as the GUI
   makes it (read license.json, verify the lease's signature, evaluate trusted time; no network, no keyring),
   warm and per call. Goal ≤ 5 ms. Also shown: the first call in a fresh process, imports included (no goal).

    .venv/bin/python bench/license_bench.py [--runs 40] [--smoke] [--json out.json]

Secrets use the 0600 file fallback (no keyring daemon is assumed on a bench machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

FRESH_CHILD = """
import sys, time
t0 = time.perf_counter()
from crystal_manager.services.context import AppContext
from crystal_manager.services.license_service import LicenseService
ctx = AppContext.create(profile_file=sys.argv[1], server_url=sys.argv[2])
service = LicenseService(ctx, secrets_in_status=False)
t1 = time.perf_counter()
state = service.status().state
t2 = time.perf_counter()
print(state, (t2 - t0) * 1000, (t2 - t1) * 1000)
"""


def _server(tmp: Path) -> tuple[Any, str, str]:
    """An initialised, running reference server with one many-seat license; (server, key, profile path)."""
    from crystal_manager.cli.demo_server import server_batch, start_server

    data = tmp / "server"
    made = server_batch([["init", str(data)], ["license", "create", str(data), "--plan", "pro", "--seats", "5",
                                              "--expires", "never", "--json"]])[1]
    # The per-key throttle (20 activations a minute) would answer 429 to a benchmark's loop (read by serve).
    (data / "server.json").write_text(json.dumps({"throttle": {"attempts_per_key": 10**6,
                                                               "failures_per_address": 10**6}}))
    key = json.loads(made.stdout)["key"]
    return start_server(data), key, str(data / "profile.json")


def _bare(client: Any, url: str, body: dict[str, Any], public: Any) -> float:
    """One bare POST + one Ed25519 verify of the signed answer; seconds."""
    import secrets

    from crystal_protocol.signing import (
        DATE_HEADER,
        DIGEST_HEADER,
        SIGNATURE_HEADER,
        response_message,
        unb64,
    )
    from crystal_protocol.wire import LICENSE_PATHS, NONCE_HEADER

    start = time.perf_counter()
    nonce = secrets.token_urlsafe(16)
    path = LICENSE_PATHS["activate"]
    answer = client.post(url + path, json=body, headers={NONCE_HEADER: nonce})
    message = response_message(method="POST", path=path, status=answer.status_code,
                               date=answer.headers[DATE_HEADER], nonce=nonce, digest=answer.headers[DIGEST_HEADER])
    public.verify(unb64(answer.headers[SIGNATURE_HEADER]), message)
    elapsed = time.perf_counter() - start
    assert answer.status_code == 200, answer.text
    return elapsed


def measure(runs: int, start_runs: int) -> dict[str, Any]:
    """Run everything; the figures as the COMMON.md JSON shape."""
    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from crystal_manager.licensing import machinekey
    from crystal_manager.services.context import AppContext
    from crystal_manager.services.license_service import LicenseService

    with tempfile.TemporaryDirectory(prefix="license-bench-") as name:
        tmp = Path(name)
        os.environ["CRYSTAL_MANAGER_HOME"] = str(tmp / "home")
        server, key, profile = _server(tmp)
        try:
            ctx = AppContext.create(profile_file=profile, server_url=server.url)
            svc = LicenseService(ctx)
            svc.activate(key)  # warm: imports, keyring file, machine key, connection
            body = svc.engine.claim(key, svc.engine.load(), None)
            body["machine_public_key"] = machinekey.public_b64(machinekey.load_or_create(ctx.secrets))
            public = Ed25519PublicKey.from_public_bytes(next(iter(ctx.profile.license_keys.values())))
            app_times: list[float] = []
            bare_times: list[float] = []
            with httpx.Client(timeout=10) as client:
                _bare(client, server.url, body, public)
                for n in range(runs):  # interleaved, alternating which goes first
                    order = (0, 1) if n % 2 == 0 else (1, 0)
                    for which in order:
                        if which == 0:
                            t0 = time.perf_counter()
                            svc.activate(key)
                            app_times.append(time.perf_counter() - t0)
                        else:
                            bare_times.append(_bare(client, server.url, body, public))
            saves = []
            record = svc.engine.load()
            for _ in range(runs):
                t0 = time.perf_counter()
                svc.engine.save(record)
                saves.append(time.perf_counter() - t0)
            gui = LicenseService(ctx, secrets_in_status=False)
            gui.status()
            checks = []
            for _ in range(max(runs, 5) * 5):
                t0 = time.perf_counter()
                state = gui.status().state
                checks.append(time.perf_counter() - t0)
            assert state == "active", state
            fresh: list[float] = []
            first: list[float] = []
            for _ in range(start_runs):
                out = subprocess.run([sys.executable, "-c", FRESH_CHILD, profile, server.url], check=True,
                                     capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                got_state, total_ms, call_ms = out.stdout.split()
                assert got_state == "active", out.stdout
                fresh.append(float(total_ms))
                first.append(float(call_ms))
            ctx.close()
        finally:
            server.stop()
    app_ms, bare_ms = statistics.median(app_times) * 1000, statistics.median(bare_times) * 1000
    check_ms = statistics.median(checks) * 1000
    ratio = app_ms / bare_ms
    rows = [
        {"name": "activation round trip (app)", "value": round(app_ms, 2), "unit": "ms", "baseline": round(bare_ms, 2),
         "ratio": round(ratio, 2), "goal": "≤ 1.5x bare httpx POST + Ed25519 verify", "met": ratio <= 1.5},
        {"name": "bare httpx POST + Ed25519 verify", "value": round(bare_ms, 2), "unit": "ms", "baseline": None,
         "ratio": None, "goal": None, "met": None},
        {"name": "of which: license.json written durably (temp, fsync, rename, fsync of the folder)",
         "value": round(statistics.median(saves) * 1000, 2), "unit": "ms", "baseline": None, "ratio": None,
         "goal": None, "met": None},
        {"name": "offline license check at start (warm, per call)", "value": round(check_ms, 3), "unit": "ms",
         "baseline": None, "ratio": None, "goal": "≤ 5 ms", "met": check_ms <= 5},
    ]
    if fresh:
        rows.append({"name": "first check in a fresh process (the call; cryptography loads in it)", "value": round(
            statistics.median(first), 1), "unit": "ms", "baseline": None, "ratio": None, "goal": None, "met": None})
        rows.append({"name": "first check in a fresh process, the licensing service's imports included",
                     "value": round(statistics.median(fresh), 1), "unit": "ms", "baseline": None, "ratio": None,
                     "goal": None, "met": None})
    notes = [f"{runs} interleaved activation pairs on loopback; {len(checks)} status checks; "
             f"{len(fresh)} fresh processes; secrets in the 0600 file fallback",
             "the app's activation also writes the privacy ledger durably before and after sending, writes "
             "license.json durably, and verifies the lease document as well as the answer; the keyring copy "
             "(guard) and the key are rewritten only when they change"]
    return {"id": "P7", "title": "Licensing: activation round trip and the offline check at start",
            "rows": rows, "notes": notes}


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 2 runs, no goals checked")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON")
    args = parser.parse_args()
    report = measure(2 if args.smoke else args.runs, 1 if args.smoke else 5)
    if args.smoke:
        for row in report["rows"]:
            row["met"] = None
    for row in report["rows"]:
        extra = f" (baseline {row['baseline']} {row['unit']}, {row['ratio']}x)" if row["baseline"] else ""
        goal = f"  goal {row['goal']}: {'met' if row['met'] else 'NOT met' if row['met'] is False else '-'}" \
            if row["goal"] else ""
        print(f"{row['name']}: {row['value']} {row['unit']}{extra}{goal}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
