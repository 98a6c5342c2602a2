#!/bin/sh
# Desktop integration for the current user (no root): the menu entry, hicolor icons and AppStream metainfo
# under $XDG_DATA_HOME (default ~/.local/share).
#   install-desktop.sh              install (or refresh)
#   install-desktop.sh --uninstall  remove exactly what install wrote
# Works from the unpacked bundle (next to the crystal-manager executable: the entry runs that executable,
# or the launcher of the Manager's own install root for a version it installed by updating itself) and from
# the source tree's build/linux/ (the entry runs `crystal-manager` from PATH, e.g. a pip install).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
name=crystalme3dpro-manager
appid=com.crystalme3dpro.manager
desktop="$data/applications/$name.desktop"
metainfo="$data/metainfo/$appid.metainfo.xml"
sizes="16 22 24 32 48 64 128 256"

if [ -x "$here/crystal-manager" ] && [ -d "$here/_internal" ]; then  # the bundle
  exe="$here/crystal-manager"; icons="$here/_internal/crystal_manager/resources/icons"; recipes="$here/desktop"
  # A version the Manager installed by updating itself (ROOT/versions/<v>/): the entry runs the launcher
  # ROOT/crystal-manager, which starts whichever version is current (decision 0013).
  root=$(cd "$here/../.." && pwd)
  if [ "$(basename "$(dirname "$here")")" = versions ] && [ -x "$root/crystal-manager" ]; then
    exe="$root/crystal-manager"
  fi
else  # the source tree
  exe=crystal-manager; icons="$here/../../crystal_manager/resources/icons"; recipes="$here"
fi

refresh() {  # optional caches: quietly skipped where the tools are absent
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$desktop" "$metainfo" "$data/icons/hicolor/scalable/apps/$name.svg"
  for s in $sizes; do rm -f "$data/icons/hicolor/${s}x${s}/apps/$name.png"; done
  refresh
  echo "removed the CrystalMe3D Pro Manager menu entry, icons and metainfo from $data"
  exit 0
fi
[ -n "${1:-}" ] && { echo "usage: $0 [--uninstall]" >&2; exit 2; }
[ -f "$icons/app-32.png" ] || { echo "install-desktop.sh: icons not found in $icons" >&2; exit 1; }

mkdir -p "$data/applications" "$data/metainfo" "$data/icons/hicolor/scalable/apps"
for s in $sizes; do
  mkdir -p "$data/icons/hicolor/${s}x${s}/apps"
  cp "$icons/app-$s.png" "$data/icons/hicolor/${s}x${s}/apps/$name.png"
done
cp "$icons/app.svg" "$data/icons/hicolor/scalable/apps/$name.svg"
# Exec: a path with spaces is quoted as the Desktop Entry spec asks.
case "$exe" in *" "*) exec_line="Exec=\"$exe\"" ;; *) exec_line="Exec=$exe" ;; esac
sed "s|^Exec=.*|$exec_line|" "$recipes/$name.desktop" > "$desktop.tmp" && mv "$desktop.tmp" "$desktop"
cp "$recipes/$appid.metainfo.xml" "$metainfo"
refresh
echo "installed the CrystalMe3D Pro Manager menu entry ($desktop), icons and metainfo; Exec: $exe"
