"""Two checks of the key file at once, and a secret stored meanwhile (issue 11): the License page's own read
and the one its file watch starts both run check_key_store, while the Privacy page's licensing status stores
the keyring copy of the clock (``license_guard``) as soon as the damaged file is out of the way. The damage
must be kept byte for byte in one copy, the secret stored must stay, and no check may fail.

Real files, real threads; the only stand-in is keyring's own "no keyring" backend (the user-only file)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crystal_manager.services.context import AppContext
from crystal_manager.services.status import LicenseStatus, check_key_store
from crystal_manager.storage.secrets import SecretStoreError

GARBAGE = b"\x00garbage{{"
GUARD = '{"back_seconds": 0.0, "v": 1}'
ACTIVE = LicenseStatus(state="active", plan="pro", key_hint="GJ3X", seats_used=1, seats_total=2)
ROUNDS = 40


@pytest.fixture
def ctx(app_home: Path) -> Iterator[AppContext]:
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # no keyring: the user-only file holds the secrets
    context = AppContext.create()
    try:
        assert context.secrets.is_fallback  # opened now, while there is no keyring
        yield context
    finally:
        context.close()
        keyring.set_keyring(previous)


class Round:
    """One damaged file met by two checks and a writer started together."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.start = threading.Barrier(3)
        self.checks_done = threading.Event()
        self.results: list[LicenseStatus] = []
        self.errors: list[BaseException] = []
        self.stored = False

    def check(self) -> None:
        self.start.wait(10)
        try:
            self.results.append(check_key_store(self.ctx, ACTIVE))
        except BaseException as exc:  # what the page would show as a failed read
            self.errors.append(exc)

    def write(self) -> None:
        self.start.wait(10)
        # As the guard keeper does: store the moment the file can be read, i.e. once the damage is aside.
        while not self.stored:
            finished = self.checks_done.is_set()
            try:
                self.ctx.secrets.set("license_guard", GUARD)
                self.stored = True
            except SecretStoreError:
                if finished:
                    return
            except BaseException as exc:
                self.errors.append(exc)
                return

    def run(self) -> None:
        threads = [threading.Thread(target=self.check), threading.Thread(target=self.check)]
        writer = threading.Thread(target=self.write)
        for thread in (*threads, writer):
            thread.start()
        for thread in threads:
            thread.join(20)
        self.checks_done.set()
        writer.join(20)


def test_two_checks_and_a_write_at_once_keep_the_damage_and_the_secret(ctx: AppContext) -> None:
    secrets = ctx.paths.secrets_fallback_file
    secrets.parent.mkdir(parents=True, exist_ok=True)
    for n in range(ROUNDS):
        for old in (secrets, *secrets.parent.glob(f"{secrets.name}.damaged-*")):
            old.unlink(missing_ok=True)
        secrets.write_bytes(GARBAGE)
        race = Round(ctx)
        race.run()
        assert race.errors == [], f"round {n}: {race.errors!r}"
        kept = list(secrets.parent.glob(f"{secrets.name}.damaged-*"))
        # Before the fix: the second check moved the guard file just written over the first copy (the damage
        # lost, the valid file taken for damage), or failed on the file the first check had moved.
        assert [p.read_bytes() for p in kept] == [GARBAGE], f"round {n}"
        assert race.stored and ctx.secrets.get("license_guard") == GUARD, f"round {n}"
        assert len(race.results) == 2
        for status in race.results:
            assert status.state == "not_activated" and status.message is not None, f"round {n}"
            assert "damaged" in status.message and str(kept[0]) in status.message, f"round {n}"
