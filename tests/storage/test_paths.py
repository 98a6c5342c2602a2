"""Folders: one root under CRYSTAL_MANAGER_HOME, else the same answer platformdirs gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crystal_manager.storage.paths import APP_AUTHOR, APP_NAME, resolve_paths


def test_one_root_when_home_is_set(tmp_path: Path) -> None:
    paths = resolve_paths({"CRYSTAL_MANAGER_HOME": str(tmp_path)})
    for folder in paths[:6]:
        assert tmp_path in Path(folder).parents


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the direct XDG reader is Linux-only")
@pytest.mark.parametrize("xdg", [False, True])
def test_linux_folders_match_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: bool) -> None:
    import platformdirs

    env = {"HOME": str(tmp_path / "home")}
    if xdg:
        env.update(XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_DATA_HOME=str(tmp_path / "d"),
                   XDG_STATE_HOME=str(tmp_path / "s"), XDG_CACHE_HOME=str(tmp_path / "k"))
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
                 "CRYSTAL_MANAGER_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours = resolve_paths(env)
    dirs = platformdirs.PlatformDirs(APP_NAME, APP_AUTHOR)
    assert ours.config_dir == Path(dirs.user_config_dir)
    assert ours.data_dir == Path(dirs.user_data_dir)
    assert ours.state_dir == Path(dirs.user_state_dir)
    assert ours.cache_dir == Path(dirs.user_cache_dir)
    assert ours.log_dir == Path(dirs.user_log_dir)
