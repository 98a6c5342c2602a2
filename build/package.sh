#!/usr/bin/env bash
# Build the lean one-folder bundle dist/crystal-manager/ from crystal_manager.spec, check that it runs, and
# pack it as a release archive dist/crystal-manager-<version>-<platform>.tar.gz.
#   build/package.sh          the Manager (bundle + archive)
#   build/package.sh --bare   dist/bare-tray/: a bare PySide6 tray app built the same way (bench baseline)
# PyInstaller's scratch space stays in build/pyinstaller-work (git-ignored): the recipes here are never
# clobbered. Needs the dev venv (./dev setup).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [ "${1:-}" = "--bare" ]; then
  CRYSTAL_BARE_TRAY=1 "$PY" -m PyInstaller --noconfirm --log-level WARN --workpath build/pyinstaller-work/bare \
    --distpath dist crystal_manager.spec
  du -sm dist/bare-tray | awk '{print "dist/bare-tray: " $1 " MB"}'
  exit 0
fi
"$PY" -m PyInstaller --noconfirm --log-level WARN --workpath build/pyinstaller-work/manager --distpath dist \
  crystal_manager.spec
# Desktop integration travels with the bundle: ./install-desktop.sh [--uninstall] for the current user.
mkdir -p dist/crystal-manager/desktop
cp build/linux/install-desktop.sh dist/crystal-manager/
cp build/linux/crystalme3dpro-manager.desktop build/linux/com.crystalme3dpro.manager.metainfo.xml \
  dist/crystal-manager/desktop/
version=$(QT_QPA_PLATFORM=offscreen ./dist/crystal-manager/crystal-manager --version | awk '{print $2}')
platform=$("$PY" -c "from crystal_protocol.releases import current_platform; print(current_platform())")
archive="dist/crystal-manager-${version}-${platform}.tar.gz"
tar -C dist -czf "$archive" crystal-manager
du -sm dist/crystal-manager | awk '{print "dist/crystal-manager: " $1 " MB unpacked"}'
du -sm "$archive" | awk -v a="$archive" '{print a ": " $1 " MB"}'
