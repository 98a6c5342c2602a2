"""The ASGI application: health, update files; licensing routes are mounted by their module."""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from crystal_protocol import PROTOCOL_VERSION
from crystal_protocol.wire import API_PREFIX

if TYPE_CHECKING:
    from crystal_server.licensing import LicensingApi

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


class LicensingFirst:
    """The POSTs to the licensing paths go straight to their endpoint, past Starlette's middleware and
    routing (P8: most of the server's requests, and Starlette's share of each was ~0.1 ms); anything else,
    other methods on those paths included (405), goes through the Starlette app."""

    def __init__(self, posts: dict[str, ASGIApp], rest: Starlette) -> None:
        self.posts, self.rest = posts, rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.posts.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.rest(scope, receive, send)


def create_app(data_dir: Path) -> LicensingFirst:
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
    licensing = licensing_routes(data_dir, api) + deletion_routes(api)
    posts = {route.path: route.endpoint for route in licensing if "POST" in (route.methods or ())}
    return LicensingFirst(posts, Starlette(routes=routes + licensing, lifespan=partial(_lifespan, api)))


@asynccontextmanager
async def _lifespan(api: LicensingApi, app: Starlette) -> AsyncIterator[None]:
    yield
    # For the operator (and bench/server_bench.py): how many requests each flush to disk served on average.
    print(f"crystal-server: {api.batch.requests} licensing requests in {api.batch.commits} commits",
          file=sys.stderr, flush=True)
