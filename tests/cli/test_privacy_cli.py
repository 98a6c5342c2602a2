"""``crystal-manager privacy``: the catalog and the log as a user reads them, and as a program holds one
against the other (real processes, a real server, a real ledger)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from crystal_manager.cli.exit_codes import EXIT_BAD_INPUT, EXIT_NOT_CONFIRMED, EXIT_OFFLINE
from crystal_manager.privacy.catalog import default_catalog
from tests.cli.test_cli_basics import isolated_env, run_cli
from tests.support.servers import ReferenceServer


def test_catalog_json_declares_every_request_with_shapes(tmp_path: Path) -> None:
    proc = run_cli("privacy", "catalog", "--json", env=isolated_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [r["kind"] for r in report["requests"]] == [t.kind for t in default_catalog().types]
    assert all(f["shape"] and f["purpose"] and f["policy"] for r in report["requests"] for f in r["fields"])
    assert {d["name"] for d in report["other_disclosures"]} >= {"browser_links", "ip_and_timing",
                                                                "dns_and_server_name"}
    (tmp_path / "b").mkdir()
    text = run_cli("privacy", "catalog", env=isolated_env(tmp_path / "b"))
    assert "your license key" in text.stdout and "POST /v1" not in text.stdout


def test_log_json_holds_up_against_the_catalog_then_export_and_clear(reference_server: ReferenceServer,
                                                                     tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    check = run_cli("--profile", str(reference_server.profile_file), "--server", reference_server.url,
                    "status", "--check-server", env=env)
    assert check.returncode == 0, check.stderr
    log = json.loads(run_cli("privacy", "log", "--json", env=env).stdout)
    catalog = json.loads(run_cli("privacy", "catalog", "--json", env=env).stdout)
    declared = {r["kind"]: {f["name"] for f in r["fields"]} for r in catalog["requests"]}
    [entry] = log
    assert entry["kind"] == "health" and entry["state"] == "done" and entry["status"] == 200
    assert set(entry["fields"]) <= declared[entry["kind"]]
    assert json.loads(run_cli("privacy", "log", "--json", "--since", "2999-01-01", env=env).stdout) == []
    bad = run_cli("privacy", "log", "--since", "last tuesday", env=env)
    assert bad.returncode == EXIT_BAD_INPUT and len(bad.stderr.strip().splitlines()) == 1
    out = tmp_path / "export.json"
    assert run_cli("privacy", "export", str(out), env=env).returncode == 0
    exported = json.loads(out.read_text())
    assert exported["log"] == log and exported["catalog"] == catalog
    cleared = run_cli("privacy", "clear", env=env)
    assert cleared.returncode == 0 and "(1 request)" in cleared.stdout
    assert json.loads(run_cli("privacy", "log", "--json", env=env).stdout) == []
    assert "Nothing has been sent." in run_cli("privacy", "log", env=env).stdout


def test_storage_lists_the_apps_files_and_names_the_keyring(reference_server: ReferenceServer,
                                                           tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    run_cli("--profile", str(reference_server.profile_file), "--server", reference_server.url,
            "status", "--check-server", env=env)
    report = json.loads(run_cli("privacy", "storage", "--json", env=env).stdout)
    ledger = [f for f in report["files"] if f["path"].endswith("ledger.jsonl")]
    assert ledger and ledger[0]["bytes"] > 0 and ledger[0]["what"].startswith("the privacy log")
    assert all(f["path"].startswith(str(tmp_path / "app")) for f in report["files"])
    assert report["keyring"] == []  # not activated: no keyring entry is claimed (issue 10, finding 6)
    assert report["key_store"]["backend"] in ("keyring", "file")


def test_vendor_shows_what_the_server_holds(reference_server: ReferenceServer, tmp_path: Path) -> None:
    from tests.cli.test_license_cli import Cli
    from tests.support.licensing import issue

    home = tmp_path / "cli-home"
    home.mkdir()
    cli = Cli(home, reference_server)
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == 0
    report = json.loads(cli("privacy", "vendor", "--json").stdout)
    assert report["license"]["id"] == lic.license_id and len(report["machines"]) == 1
    assert lic.key not in json.dumps(report)  # the server holds a digest, never the key
    text = cli("privacy", "vendor")
    assert text.returncode == 0 and "stored as a digest of its key ending …" + lic.key[-4:] in text.stdout
    assert re.search(r"\d{4}-\d{2}-\d{2}T", text.stdout) is None and "m_" not in text.stdout


def test_log_in_words_names_no_protocol(reference_server: ReferenceServer, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    run_cli("--profile", str(reference_server.profile_file), "--server", reference_server.url,
            "status", "--check-server", env=env)
    text = run_cli("privacy", "log", env=env).stdout
    assert "Server health check (you asked)" in text and "answered" in text
    assert "GET" not in text and "/v1/" not in text
    assert re.search(r"\d{4}-\d{2}-\d{2}T", text) is None  # no ISO timestamps in text


def _machines(server: ReferenceServer) -> list[dict[str, object]]:
    from crystal_server import store

    conn = store.connect(server.data_dir)
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM machines")]
    finally:
        conn.close()


def test_delete_local_frees_the_seat_then_deletes_every_file(reference_server: ReferenceServer,
                                                             tmp_path: Path) -> None:
    from tests.cli.test_license_cli import Cli
    from tests.support.licensing import issue

    home = tmp_path / "cli-home"
    home.mkdir()
    cli = Cli(home, reference_server)
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == 0
    files_before = sorted(p for p in home.rglob("*") if p.is_file())
    assert any(p.name == "secrets.json" for p in files_before)  # the key, in the user-only file here
    offline = cli("privacy", "delete-local", "--yes", server="http://127.0.0.1:9")  # the seat cannot be freed
    assert offline.returncode == EXIT_OFFLINE and "Nothing was deleted" in offline.stderr
    assert len(offline.stderr.strip().splitlines()) == 1
    assert sorted(p for p in home.rglob("*") if p.is_file() and p.name != "ledger.jsonl") == \
        sorted(p for p in files_before if p.name != "ledger.jsonl")  # (the attempt is in the log)
    refused = cli("privacy", "delete-local", input_text="yes\n")  # no terminal: only --yes confirms
    assert refused.returncode == EXIT_NOT_CONFIRMED and "Nothing was deleted" in refused.stderr
    assert "deactivated first" in refused.stdout
    assert sorted(p for p in home.rglob("*") if p.is_file()) == files_before
    done = cli("privacy", "delete-local", "--yes")
    assert done.returncode == 0, done.stderr
    assert "its seat is free" in done.stdout
    assert [p for p in home.rglob("*") if p.is_file()] == []
    [machine] = _machines(reference_server)
    assert machine["deactivated_at"] and not machine["fingerprint"]
    again = cli("privacy", "delete-local", "--yes")  # nothing activated, nothing left: still fine
    assert again.returncode == 0 and "deactivated" not in again.stdout.lower().split("keyring")[0]


def test_request_deletion_asks_the_vendor_and_forgets_the_license(reference_server: ReferenceServer,
                                                                  tmp_path: Path) -> None:
    from tests.cli.test_license_cli import Cli
    from tests.support.licensing import issue

    home = tmp_path / "cli-home"
    home.mkdir()
    cli = Cli(home, reference_server)
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == 0
    refused = cli("privacy", "request-deletion", "--all-machines")
    assert refused.returncode == EXIT_NOT_CONFIRMED and "EVERY computer" in refused.stdout
    assert len(_machines(reference_server)) == 1 and cli.ledger_kinds()[-1] == "license_activate"
    done = cli("privacy", "request-deletion", "--yes")
    assert done.returncode == 0, done.stderr
    assert "deleted the data of 1 computer" in done.stdout and "Still kept: The license itself" in done.stdout
    assert _machines(reference_server) == []
    assert cli.ledger_kinds()[-1] == "license_deletion"
    entry = json.loads(cli("privacy", "log", "--json").stdout)[-1]
    assert set(entry["fields"]) == {"key", "scope", "machine_id"} and lic.key not in json.dumps(entry)
    status = json.loads(cli("status", "--json").stdout)
    assert "not" in json.dumps(status).lower()
    # Nothing held here any more: asking again is a clear refusal, nothing sent.
    again = cli("privacy", "request-deletion", "--yes")
    assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1
    assert cli.ledger_kinds()[-1] == "license_deletion" and len(cli.ledger_kinds()) == 2


def test_request_deletion_after_a_deactivation_takes_the_key_and_names_the_last_machine(
        reference_server: ReferenceServer, tmp_path: Path) -> None:
    from tests.cli.test_license_cli import Cli
    from tests.support.licensing import issue

    home = tmp_path / "cli-home"
    home.mkdir()
    cli = Cli(home, reference_server)
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == 0
    assert cli("deactivate").returncode == 0
    [machine] = _machines(reference_server)  # its id and dates stay as the seat history
    assert machine["deactivated_at"]
    sent = len(cli.ledger_kinds())
    no_key = cli("privacy", "request-deletion", "--yes")  # the key left with the deactivation
    assert no_key.returncode == EXIT_BAD_INPUT and "--key" in no_key.stderr
    assert len(no_key.stderr.strip().splitlines()) == 1 and len(cli.ledger_kinds()) == sent  # nothing sent
    done = cli("privacy", "request-deletion", "--yes", "--key", lic.key)
    assert done.returncode == 0, done.stderr
    assert "deleted the data of 1 computer" in done.stdout
    assert _machines(reference_server) == []
    entry = json.loads(cli("privacy", "log", "--json").stdout)[-1]
    assert entry["kind"] == "license_deletion" and set(entry["fields"]) == {"key", "scope", "machine_id"}
    # Asked again: the vendor has nothing of this computer any more, and the words say so.
    again = cli("privacy", "request-deletion", "--yes", "--key", lic.key)
    assert again.returncode == 0, again.stderr
    assert "nothing was deleted" in again.stdout and "deleted the data of" not in again.stdout


def test_delete_local_says_what_it_left_and_never_enters_a_linked_folder(reference_server: ReferenceServer,
                                                                          tmp_path: Path) -> None:
    from tests.cli.test_license_cli import Cli
    from tests.support.licensing import issue

    home = tmp_path / "cli-home"
    (home / "data").mkdir(parents=True)  # a folder the Manager finds, with the user's own file in it
    (home / "data" / "thesis.docx").write_text("years of work")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"\xff\xd8")
    (home / "cache").symlink_to(photos, target_is_directory=True)
    cli = Cli(home, reference_server)
    lic = issue(reference_server.data_dir)
    assert cli("activate", lic.key).returncode == 0
    assert (home / "data" / "ledger.jsonl").exists() and (home / "state" / ".crystal-manager").exists()
    assert not (home / "data" / ".crystal-manager").exists()  # found, not made: never marked
    done = cli("privacy", "delete-local", "--yes")
    assert done.returncode == 0, done.stderr
    assert "Left 1 items that are not the Manager's" in done.stdout and "thesis.docx" in done.stdout
    assert f"{home / 'cache'} is a link to another folder" in done.stdout
    assert sorted(p.name for p in home.rglob("*")) == ["cache", "data", "thesis.docx"]  # the rest went
    assert (photos / "holiday.jpg").read_bytes() == b"\xff\xd8"


def test_log_of_a_refused_connection_says_nothing_was_sent(reference_server: ReferenceServer,
                                                          tmp_path: Path) -> None:
    """Finding 7: a closed port is "nothing sent", each retry named as a try, never "466 bytes sent"."""
    from crystal_manager.cli.demo_server import free_port

    env = isolated_env(tmp_path)
    run_cli("--profile", str(reference_server.profile_file), "--server", f"http://127.0.0.1:{free_port()}",
            "status", "--check-server", env=env)
    text = run_cli("privacy", "log", env=env).stdout
    lines = [line for line in text.splitlines() if "could not be reached" in line]
    assert lines, text
    assert all("nothing sent" in line and "bytes sent" not in line for line in lines), text
    assert "(try 2)" in text


def test_catalog_in_words_lists_the_license_check_as_the_other_faces_do(tmp_path: Path) -> None:
    """The same list and count as the Welcome and the Privacy page (the core's), each thing once."""
    from crystal_manager.services.privacy_words import license_check_items

    items = license_check_items(default_catalog())
    text = run_cli("privacy", "catalog", env=isolated_env(tmp_path)).stdout
    first = text.splitlines()[0]
    assert first == f"To check your license (about once a day) it sends {len(items)} things: " + "; ".join(items) + "."
    assert first.count("operating system family") == 1


def test_log_in_words_shows_an_update_check_as_one_line_and_codes_shortened(reference_server: ReferenceServer,
                                                                             tmp_path: Path) -> None:
    """One record per request stays (``--json``); in words an update check is one line naming its files,
    and the machine code reads "v1:d602…" as the key reads "…7F3A" (``--exact``: as it was sent)."""
    from tests.support.licensing import issue
    from tests.support.update_repo import publish

    env = isolated_env(tmp_path)
    server = ("--profile", str(reference_server.profile_file), "--server", reference_server.url)
    publish(reference_server, "1.1.0")
    lic = issue(reference_server.data_dir)
    assert run_cli(*server, "activate", lic.key, env=env).returncode == 0
    assert run_cli(*server, "update", "check", env=env).returncode == 0
    records = json.loads(run_cli("privacy", "log", "--json", env=env).stdout)
    files = [r for r in records if r["kind"] == "update_metadata"]
    assert len(files) >= 3  # every request recorded, one record each
    text = run_cli("privacy", "log", env=env).stdout
    [line] = [ln for ln in text.splitlines() if ln.split("  ", 1)[-1].startswith("Update information")]
    assert f"Update information ({len(files)} files) (you asked)" in line, text
    assert "bytes sent" in line and str(sum(r["bytes_sent"] for r in files)) in line
    [names] = [ln for ln in text.splitlines() if ln.startswith("    files: ")]
    assert all(r["fields"]["name"] in names for r in files)
    code = next(r["fields"]["fingerprint"] for r in records if r["kind"] == "license_activate")
    assert code not in text and f"v1:{code[3:7]}…" in text and "--exact" in text
    exact = run_cli("privacy", "log", "--exact", env=env).stdout
    assert code in exact and lic.key not in exact and lic.key not in text
