#!/usr/bin/env bash
# Run a command on a private X display (Xvfb) that has a system-tray host (trayer), so that
# QSystemTrayIcon.isSystemTrayAvailable() is true; no window manager. Used by the GUI benchmarks (bench/)
# and by hand to see the tray app as a person would. `./dev setup` installs Xvfb and trayer.
#
#   tools/with-xvfb-tray.sh CMD [ARGS...]
#
# Exports DISPLAY and unsets QT_QPA_PLATFORM for CMD; exits with CMD's exit code (3 if no display or no tray
# host could be started); Xvfb and trayer are stopped afterwards, also when interrupted.
set -u

for tool in Xvfb trayer python3; do
  command -v "$tool" >/dev/null || { echo "with-xvfb-tray: $tool is not installed (./dev setup)" >&2; exit 3; }
done
[ $# -gt 0 ] || { echo "usage: tools/with-xvfb-tray.sh CMD [ARGS...]" >&2; exit 2; }

XPID="" TPID=""
fifo_dir=$(mktemp -d)
cleanup() {
  [ -n "$TPID" ] && kill "$TPID" 2>/dev/null
  [ -n "$XPID" ] && kill "$XPID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$fifo_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Xvfb picks a free display number itself and writes it to fd 3 once it accepts connections.
mkfifo "$fifo_dir/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$fifo_dir/display" >/dev/null 2>&1 &
XPID=$!
if ! read -r -t 10 dnum <"$fifo_dir/display" || [ -z "$dnum" ]; then
  echo "with-xvfb-tray: Xvfb did not start" >&2
  exit 3
fi
export DISPLAY=":$dnum"
unset QT_QPA_PLATFORM

trayer --edge top --align right --widthtype pixel --width 200 --height 24 \
       --transparent false --tint 0x333333 >/dev/null 2>&1 &
TPID=$!

# Wait (at most ~5 s) until trayer owns the _NET_SYSTEM_TRAY_S0 selection, i.e. a tray host exists.
tray_ready() {
  python3 - <<'PY' 2>/dev/null
import ctypes, sys
x = ctypes.CDLL("libX11.so.6"); x.XOpenDisplay.restype = ctypes.c_void_p
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
d = x.XOpenDisplay(None)
sys.exit(0 if d and x.XGetSelectionOwner(d, x.XInternAtom(d, b"_NET_SYSTEM_TRAY_S0", 0)) else 1)
PY
}
ready=""
for _ in $(seq 50); do
  if tray_ready; then ready=1; break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "with-xvfb-tray: no tray host on $DISPLAY (trayer did not start)" >&2
  exit 3
fi

"$@"
