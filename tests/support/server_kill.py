"""SIGKILL for a test's reference server, forked or executed (tests/support/servers.py), for the tests of
what a killed server leaves on disk."""

from __future__ import annotations

import select
import signal

from tests.support.servers import ForkedServer, ReferenceServer


def kill_server(server: ReferenceServer, timeout: float = 10.0) -> None:
    """Kill ``server``'s process with SIGKILL and wait until it is gone (its block's ``stop`` then has
    nothing left to do)."""
    running = server.running
    if isinstance(running, ForkedServer):  # not our child: signalled and watched through its pidfd
        assert running.pidfd >= 0, "the server had already ended before it could be killed"
        signal.pidfd_send_signal(running.pidfd, signal.SIGKILL)
        ready, _, _ = select.select([running.pidfd], [], [], timeout)
        assert ready, f"the killed server was still running after {timeout} s"
    else:
        running.process.kill()
        running.process.wait(timeout)
