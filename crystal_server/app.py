"""The ASGI application: health, update files; licensing routes are mounted by their module."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from crystal_protocol import PROTOCOL_VERSION
from crystal_protocol.wire import API_PREFIX

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The protocol's error envelope."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _serve_file(folder: Path, name: str) -> Response:
    # Names come from the network: accept plain file names only, never a path.
    if not _SAFE_NAME.match(name) or ".." in name:
        return error(400, "bad_request", "invalid file name")
    path = folder / name
    if not path.is_file():
        return error(404, "not_found", f"no file {name}")
    return FileResponse(path)


def create_app(data_dir: Path) -> Starlette:
    """Build the server for the folder made by ``crystal-server init``."""
    repo = data_dir / "repository"

    async def health(request: Request) -> Response:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return JSONResponse({"status": "ok", "protocol": PROTOCOL_VERSION, "time": now})

    async def metadata(request: Request) -> Response:
        return _serve_file(repo / "metadata", request.path_params["name"])

    async def target(request: Request) -> Response:
        return _serve_file(repo / "targets", request.path_params["name"])

    routes = [
        Route(f"{API_PREFIX}/health", health, methods=["GET"]),
        Route(f"{API_PREFIX}/updates/metadata/{{name}}", metadata, methods=["GET"]),
        Route(f"{API_PREFIX}/updates/targets/{{name}}", target, methods=["GET"]),
    ]
    from crystal_server.licensing import routes as licensing_routes

    routes += licensing_routes(data_dir)
    return Starlette(routes=routes)
