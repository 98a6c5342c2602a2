"""Ask the server whether it is up (the catalog's ``health`` request)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from crystal_manager.net.request import OutboundRequest, Trigger
from crystal_manager.services.context import AppContext


class HealthError(Exception):
    """The server answered, but not as a healthy protocol-v1 server."""


@dataclass(frozen=True)
class ServerHealth:
    """What the health endpoint said."""

    status: str
    protocol: int
    server_time: str


def check_server(ctx: AppContext, *, trigger: Trigger = "user") -> ServerHealth:
    """Send one ``health`` request through the gateway."""
    response = ctx.gateway.send(OutboundRequest(kind="health", trigger=trigger))
    if response.status != 200:
        raise HealthError(f"server answered HTTP {response.status}")
    try:
        data = json.loads(response.body)
        return ServerHealth(status=str(data["status"]), protocol=int(data["protocol"]),
                            server_time=str(data["time"]))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise HealthError("server answer is not a protocol-v1 health report") from exc
