"""When the gateway tries a request again, and how long it waits first (no network here: pure and tested).

Only requests the catalog marks idempotent are ever retried (the gateway checks that); this module decides
for those: which answers are worth another attempt, how long ``Retry-After`` asks for, and the backoff.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Answers that say "try again later": too many requests, and a gateway or service that is not ready.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP date (RFC 9110 10.2.3).

    A date already past means "now" (0); a value that is neither, or negative, gives None (do not retry).
    """
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or the asctime form: no zone given; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_wait(attempt: int, retry_after: str | None, *, max_attempts: int, backoff_base: float,
               max_wait: float, now: datetime | None = None) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to stop and hand back what came.

    A ``Retry-After`` is honoured when it asks for at most ``max_wait``; without one, exponential backoff
    from ``backoff_base`` with jitter (0.5x-1.5x), capped at ``max_wait``.
    """
    if attempt >= max_attempts:
        return None
    if retry_after is not None:
        wait = retry_after_seconds(retry_after, now or datetime.now(UTC))
        return wait if wait is not None and wait <= max_wait else None
    backoff = backoff_base * (2 ** (attempt - 1))
    return float(min(max_wait, backoff * (0.5 + random.random())))


#: The shortest attempt worth starting when a user is waiting: less than this is not another real try.
MIN_ATTEMPT_SECONDS = 2.0


def within_budget(wait: float | None, elapsed: float, budget: float | None) -> float | None:
    """``wait`` if another attempt still fits in ``budget`` seconds (the whole time a person waits for an
    answer, ``elapsed`` of it spent), else None: stop now and say why, rather than keep a person waiting
    through every timeout and retry (3 attempts of a 20 s read timeout were ~62 s of silence)."""
    if wait is None or budget is None:
        return wait
    return wait if elapsed + wait + MIN_ATTEMPT_SECONDS <= budget else None


def attempt_timeouts(elapsed: float, budget: float | None, *, connect: float, read: float) -> tuple[float, float]:
    """(connect, read) timeouts of the next attempt: the configured ones, cut to what is left of ``budget``."""
    if budget is None:
        return connect, read
    left = max(0.1, budget - elapsed)
    return min(connect, left), min(read, left)
