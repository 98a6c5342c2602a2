"""Choosing the keyring: off macOS, the macOS Keychain's bindings are not loaded (loading them runs ldconfig,
gcc and ld through ``ctypes.util.find_library``), and the backend chosen is the one keyring itself chooses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: A child interpreter: record every find_library call (a library function, not ours), then pick a backend.
PROBE = """
import ctypes.util, json, sys
calls = []
real = ctypes.util.find_library
def recording(name):
    calls.append(name)
    return real(name)
ctypes.util.find_library = recording
if sys.argv[1] == "ours":
    from pathlib import Path
    from crystal_manager.storage.secrets import open_secret_store
    chosen = open_secret_store(Path(sys.argv[2])).info.name
else:
    import keyring
    kr = keyring.get_keyring()
    chosen = type(kr).__module__ + "." + type(kr).__name__
macos = sys.modules.get("keyring.backends.macOS.api") is not None
print(json.dumps({"calls": calls, "chosen": chosen, "macos": macos}))
"""


def probe(which: str, tmp_path: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", PROBE, which, str(tmp_path / "secrets.json")], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the Keychain is the keyring")
@pytest.mark.parametrize("backend", ["", "keyring.backends.fail.Keyring"])
def test_no_library_search_and_the_same_choice_as_keyring(tmp_path: Path, backend: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    if backend:
        env["PYTHON_KEYRING_BACKEND"] = backend
    ours = probe("ours", tmp_path, env)
    plain = probe("plain", tmp_path, env)
    assert ours["calls"] == [] and ours["macos"] is False
    if not backend:  # keyring on its own searches for the Keychain's three libraries
        assert plain["calls"] == ["Security", "CoreServices", "Foundation"]
    usable = plain["chosen"] not in ("keyring.backends.fail.Keyring",)
    if usable and plain["chosen"] != "keyring.backends.chainer.ChainerBackend":
        assert ours["chosen"] == plain["chosen"]
    else:
        assert str(ours["chosen"]).startswith("file ")  # no keyring: the user-only file, as before
