"""The ASGI application: health, update files; licensing routes are mounted by their module."""

from __future__ import annotations

import hashlib
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
_VERSIONED_METADATA = re.compile(r"^[1-9][0-9]*\.[a-z]+\.json$")
IMMUTABLE = "public, max-age=31536000, immutable"


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The protocol's error envelope."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _check_name(folder: Path, name: str) -> Response | Path:
    # Names come from the network: accept plain file names only, never a path.
    if not _SAFE_NAME.match(name) or ".." in name:
        return error(400, "bad_request", "invalid file name")
    path = folder / name
    if not path.is_file():
        return error(404, "not_found", f"no file {name}")
    return path


def _serve_metadata(folder: Path, name: str, request: Request) -> Response:
    """Metadata is small and timestamp.json is replaced while we serve: read it whole (one open, one
    consistent body), with a strong ETag of its content. Versioned files never change: cache for ever."""
    found = _check_name(folder, name)
    if isinstance(found, Response):
        return found
    try:
        body = found.read_bytes()
    except FileNotFoundError:
        return error(404, "not_found", f"no file {name}")
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"etag": etag, "cache-control": IMMUTABLE if _VERSIONED_METADATA.match(name) else "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


class _TargetResponse(FileResponse):
    # Starlette reads files in 64 KiB pieces, each a thread hop: 1 MiB pieces send large archives ~2x faster.
    chunk_size = 1024 * 1024


def _serve_target(folder: Path, name: str) -> Response:
    """Targets are hash-named and never rewritten: FileResponse (Range, If-Range, ETag), cached for ever."""
    found = _check_name(folder, name)
    if isinstance(found, Response):
        return found
    return _TargetResponse(found, media_type="application/octet-stream", headers={"cache-control": IMMUTABLE})


def create_app(data_dir: Path) -> Starlette:
    """Build the server for the folder made by ``crystal-server init``."""
    repo = data_dir / "repository"

    async def health(request: Request) -> Response:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return JSONResponse({"status": "ok", "protocol": PROTOCOL_VERSION, "time": now})

    async def metadata(request: Request) -> Response:
        return _serve_metadata(repo / "metadata", request.path_params["name"], request)

    async def target(request: Request) -> Response:
        return _serve_target(repo / "targets", request.path_params["name"])

    routes = [
        Route(f"{API_PREFIX}/health", health, methods=["GET"]),
        Route(f"{API_PREFIX}/updates/metadata/{{name}}", metadata, methods=["GET"]),
        Route(f"{API_PREFIX}/updates/targets/{{name}}", target, methods=["GET"]),
    ]
    from crystal_server.deletion import routes as deletion_routes
    from crystal_server.licensing import LicensingApi
    from crystal_server.licensing import routes as licensing_routes

    api = LicensingApi(data_dir)  # one throttle: failures on any licensing route count on every other
    routes += licensing_routes(data_dir, api)
    routes += deletion_routes(api)
    return Starlette(routes=routes)
