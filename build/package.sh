#!/usr/bin/env bash
# Build the one-folder bundle into dist/crystal-manager. PyInstaller's scratch space stays in
# build/pyinstaller-work (ignored by git) so the recipes in build/ are never clobbered.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pyinstaller --noconfirm --clean --workpath build/pyinstaller-work --distpath dist crystal_manager.spec
./dist/crystal-manager/crystal-manager --version
