#!/usr/bin/env bash
# Build the lean one-folder bundle dist/crystal-manager/ from crystal_manager.spec, check that it runs, and
# pack it as a release archive dist/crystal-manager-<version>-<platform>.tar.gz.
#   build/package.sh          the Manager (bundle + archive)
#   build/package.sh --bare   dist/bare-tray/: a bare PySide6 tray app built the same way (bench baseline)
# The archive is in the update pipeline's format (product.json at its root, product "crystal-manager"):
# `crystal-server release publish DIR ARCHIVE --product crystal-manager --version V` takes it as it is.
# Unpack it into a folder of its own: mkdir crystal-manager && tar -xzf ARCHIVE -C crystal-manager
# PyInstaller's scratch space stays in build/pyinstaller-work (git-ignored): the recipes here are never
# clobbered. Needs the dev venv (./dev setup). DIST and WORK move the output and scratch folders.
# ARCHIVE_GZIP_LEVEL (1-9, default 6: gzip's own default, what releases use) sets the archive's compression;
# the tests build with 1 (a third of the CPU, an archive ~10% larger; same format, layout and contents).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DIST=${DIST:-dist}
WORK=${WORK:-build/pyinstaller-work}
LEVEL=${ARCHIVE_GZIP_LEVEL:-6}
case "$LEVEL" in
  [1-9]) ;;
  *) shown=${LEVEL//[^[:print:]]/?}  # one line, no terminal control sequences, whatever the value holds
     echo "package.sh: ARCHIVE_GZIP_LEVEL must be a digit from 1 to 9 (got \"${shown:0:40}\")" >&2; exit 2 ;;
esac
if [ "${1:-}" = "--bare" ]; then
  CRYSTAL_BARE_TRAY=1 "$PY" -m PyInstaller --noconfirm --log-level WARN --workpath "$WORK/bare" \
    --distpath "$DIST" crystal_manager.spec
  du -sm "$DIST/bare-tray" | awk -v d="$DIST" '{print d "/bare-tray: " $1 " MiB"}'
  exit 0
fi
"$PY" -m PyInstaller --noconfirm --log-level WARN --workpath "$WORK/manager" --distpath "$DIST" \
  crystal_manager.spec
bundle="$DIST/crystal-manager"
# Desktop integration travels with the bundle: ./install-desktop.sh [--uninstall] for the current user.
mkdir -p "$bundle/desktop"
cp build/linux/install-desktop.sh "$bundle/"
cp build/linux/crystalme3dpro-manager.desktop build/linux/com.crystalme3dpro.manager.metainfo.xml "$bundle/desktop/"
version=$(QT_QPA_PLATFORM=offscreen "$bundle/crystal-manager" --version | awk '{print $2}')
platform=$("$PY" -c "from crystal_protocol.releases import current_platform; print(current_platform())")
printf '{"product": "crystal-manager", "version": "%s", "platform": "%s", "health_check": ["crystal-manager", "--version"]}\n' \
  "$version" "$platform" > "$bundle/product.json"
archive="$DIST/crystal-manager-${version}-${platform}.tar.gz"
tar -C "$bundle" -I "gzip -$LEVEL" -cf "$archive" .
du -sm "$bundle" | awk -v b="$bundle" '{print b ": " $1 " MiB unpacked"}'
du -sm "$archive" | awk -v a="$archive" '{print a ": " $1 " MiB"}'
