"""Watch an X display for the moment a tray icon is embedded, from outside the process that shows it.

A ``QSystemTrayIcon`` on X11 is a top-level window that the tray host (trayer under Xvfb) reparents into
itself (XEMBED). With SubstructureNotify selected on the root window, that move arrives as a
``ReparentNotify`` whose new parent is not the root: the time it is read is "icon embedded". No window
manager runs under tools/with-xvfb-tray.sh, so nothing else reparents top-level windows. Plain Xlib through
ctypes: nothing to install beyond libX11 (which Qt's xcb plugin needs anyway).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import time

SUBSTRUCTURE_NOTIFY_MASK = 1 << 19
REPARENT_NOTIFY = 21


class TrayWatch:
    """Open the display named by ``$DISPLAY`` and listen for reparenting of root's children."""

    def __init__(self) -> None:
        try:  # the soname first: find_library runs ldconfig (and gcc where one is installed) to find it
            x = ctypes.CDLL("libX11.so.6")
        except OSError:
            x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XPending.argtypes = [ctypes.c_void_p]
        x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        x.XConnectionNumber.argtypes = [ctypes.c_void_p]
        self._x = x
        self._display = x.XOpenDisplay(os.environ.get("DISPLAY", "").encode() or None)
        if not self._display:
            raise RuntimeError("cannot open the X display (run under tools/with-xvfb-tray.sh)")
        self._root = x.XDefaultRootWindow(self._display)
        x.XSelectInput(self._display, self._root, SUBSTRUCTURE_NOTIFY_MASK)
        x.XSync(self._display, 0)
        self._fd = x.XConnectionNumber(self._display)
        self._event = (ctypes.c_long * 24)()  # XEvent is a union of 24 longs

    def drain(self) -> None:
        """Forget events seen so far (an earlier run's icon being destroyed)."""
        self._x.XSync(self._display, 0)
        while self._x.XPending(self._display):
            self._x.XNextEvent(self._display, ctypes.byref(self._event))

    def wait_embedded(self, timeout: float) -> float:
        """Block until a top-level window is reparented away from the root; return ``time.monotonic()``
        then. Raises TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            while self._x.XPending(self._display):
                self._x.XNextEvent(self._display, ctypes.byref(self._event))
                ev = self._event
                # XReparentEvent: type, serial, send_event, display, event, window, parent (longs on LP64).
                if (ev[0] & 0xFFFFFFFF) == REPARENT_NOTIFY and ev[4] == self._root and ev[6] != self._root:
                    return time.monotonic()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no tray icon was embedded")
            select.select([self._fd], [], [], left)
