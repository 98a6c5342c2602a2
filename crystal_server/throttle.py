"""Sliding-window limits on activation attempts, per address and per key (guessing keys must be slow).
Times are wall-clock seconds so that the events can be stored and survive a restart (see licensing)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottleConfig:
    """Limits per window. Failures are unknown or malformed keys; attempts are activations of one key."""

    window_seconds: float = 60.0
    failures_per_address: int = 10
    attempts_per_key: int = 20


class Window:
    """Counts events per name over the last ``seconds``."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.time,
                 on_add: Callable[[str, float], None] | None = None) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._on_add = on_add
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def seed(self, events: Iterable[tuple[str, float]]) -> None:
        """Take over events counted before (oldest first), e.g. by the server before a restart."""
        with self._lock:
            for name, at in events:
                self._events.setdefault(name, deque()).append(at)

    def _trim(self, name: str, now: float) -> deque[float]:
        events = self._events.setdefault(name, deque())
        while events and events[0] <= now - self.seconds:
            events.popleft()
        return events

    def retry_after(self, name: str) -> int | None:
        """Seconds to wait if ``name`` is over its limit, else None."""
        with self._lock:
            now = self._clock()
            events = self._trim(name, now)
            if len(events) < self.limit:
                return None
            return max(1, int(events[0] + self.seconds - now + 0.999))

    def add(self, name: str) -> None:
        """Count one event."""
        with self._lock:
            now = self._clock()
            self._trim(name, now).append(now)
            if len(self._events) > 100_000:  # bound memory under a flood of distinct names
                self._events = {k: v for k, v in self._events.items() if v}
        if self._on_add is not None:
            self._on_add(name, now)
