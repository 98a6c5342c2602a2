"""``crystal-server``: the vendor's admin CLI (init, serve, and the license commands)."""

from __future__ import annotations

import argparse
import functools
import os
import socket
import sys
import threading
import time
from pathlib import Path

from crystal_server import keys, store
from crystal_server.license_cli import LicenseCliError
from crystal_server.tuf_repo import RepoError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_STATE = 3
REFRESH_ENV = "CRYSTAL_SERVER_TIMESTAMP_REFRESH_SECONDS"


class ServerCliError(Exception):
    """A one-line message for the operator, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def cmd_init(args: argparse.Namespace) -> int:
    """Create the server folder: database, signing keys, and the development profile for clients."""
    data_dir: Path = args.dir.resolve()
    if (data_dir / "profile.json").exists():
        raise ServerCliError(f"{data_dir} is already initialised (profile.json exists)", EXIT_STATE)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store.connect(data_dir).close()
    license_key = keys.generate(data_dir / "keys", "license")
    keys.set_signing(data_dir / "keys", "license", license_key.kid, time.time())
    from crystal_server import tuf_repo

    # The update repository: root with its own key in DIR/offline, online keys in DIR/keys.
    repo = tuf_repo.init_repository(data_dir)
    url = (args.url or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}").rstrip("/")
    profile = {
        "name": "development",
        "production": False,
        "server_url": url,
        "license_keys": {license_key.kid: license_key.public_b64},
        "tuf_root": tuf_repo.root_document(repo),
    }
    if args.tls_ca:
        profile["tls_ca_file"] = str(Path(args.tls_ca).resolve())
    keys.write_profile(data_dir, profile)
    print(f"initialised {data_dir}")
    print(f"client profile: {data_dir / 'profile.json'} (server {url})")
    print(f"update repository: {repo.metadata_dir.parent}; the root key is in {repo.offline_dir} "
          "(keep it offline in production)")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the folder over HTTP (or HTTPS with --tls-cert/--tls-key) until interrupted."""
    data_dir: Path = args.dir.resolve()
    if not (data_dir / "profile.json").exists():
        raise ServerCliError(f"{data_dir} is not a server folder; run: crystal-server init {data_dir}")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ServerCliError("--tls-cert and --tls-key go together")
    import uvicorn

    from crystal_server.app import create_app
    from crystal_server.http_head import http_protocol

    # Bind here, not in uvicorn, so that a port in use is a clear error and "listening on" is printed
    # only once the socket is ours (callers wait for that line; --port 0 picks a free port).
    sock = listen_socket(args.host, args.port)
    scheme = "https" if args.tls_cert else "http"
    # The refresher's first pass before "listening on": no client is served a timestamp that ran out while
    # the server was stopped (nor races that pass).
    stop = _start_refresher(data_dir, args)
    print(f"listening on {scheme}://{args.host}:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(create_app(data_dir), log_level=args.log_level, ssl_certfile=args.tls_cert,
                            ssl_keyfile=args.tls_key, access_log=False,
                            http=http_protocol(),  # httptools with the request head bounded (h11's 16 KiB)
                            # uvicorn's default believes X-Forwarded-For from 127.0.0.1: anyone reaching the
                            # server over loopback would choose the address the failed-attempt throttle counts.
                            proxy_headers=bool(args.trusted_proxy),
                            forwarded_allow_ips=",".join(args.trusted_proxy) or None)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        stop.set()
    return EXIT_OK


def listen_socket(host: str, port: int) -> socket.socket:
    """The server's bound, listening TCP socket; its connections send small answers at once.

    ``proto=IPPROTO_TCP``: asyncio turns Nagle's algorithm off only on such sockets. With proto 0 every answer
    written in two parts (headers, then body) waited for the client's delayed ACK, ~40 ms per licensing or
    metadata answer (P8 in docs/performance.md). TCP_NODELAY on the listener too: accepted sockets inherit it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if os.name == "posix":  # restart on the same port at once, past the last connections' TIME_WAIT (on
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # Windows it would share a busy port)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerCliError(f"cannot listen on {host}:{port}: {exc.strerror}", EXIT_STATE) from exc
    sock.listen(128)
    return sock


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    try:
        return float(text) if text else default
    except ValueError:
        raise ServerCliError(f"{name} must be a number of seconds, not {text!r}") from None


def _start_refresher(data_dir: Path, args: argparse.Namespace) -> threading.Event:
    """Re-sign the update timestamp in the background while serving (off with an interval of 0)."""
    from datetime import timedelta

    from crystal_server import tuf_repo

    stop = threading.Event()
    interval = args.timestamp_refresh_seconds
    if interval is None:
        interval = _env_seconds(REFRESH_ENV, 300.0)
    lifetimes = tuf_repo.Lifetimes.from_env()
    if args.timestamp_expiry is not None:
        if args.timestamp_expiry < 1:
            raise ServerCliError("--timestamp-expiry must be at least 1 second")
        lifetimes = tuf_repo.Lifetimes(timestamp=timedelta(seconds=args.timestamp_expiry))
    repo = tuf_repo.TufRepository(data_dir, lifetimes)
    if interval > 0 and repo.exists():
        def log(line: str) -> None:
            print(f"crystal-server: {line}", file=sys.stderr, flush=True)

        tuf_repo.refresh_due(repo, min(interval, 5.0), log)
        threading.Thread(target=tuf_repo.keep_fresh, args=(repo, interval, stop, log), kwargs={"wait_first": True},
                         name="timestamp-refresher", daemon=True).start()
    return stop


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands register themselves here)."""
    parser = argparse.ArgumentParser(prog="crystal-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create a server folder and the clients' development profile")
    init.add_argument("dir", type=Path)
    init.add_argument("--url", help=f"URL clients use (default http://{DEFAULT_HOST}:{DEFAULT_PORT})")
    init.add_argument("--tls-ca", help="CA certificate clients should trust for this server (PEM)")
    init.set_defaults(func=cmd_init)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("dir", type=Path)
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--tls-cert")
    serve.add_argument("--tls-key")
    serve.add_argument("--log-level", default="warning")
    serve.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                       help="a reverse proxy whose X-Forwarded-For header is believed (repeatable; default: none, "
                            "the address is the connection's own)")
    serve.add_argument("--timestamp-refresh-seconds", type=float, metavar="SECONDS",
                       help=f"how often to check the update timestamp's expiry (default 300, or ${REFRESH_ENV}; "
                            "0: never re-sign)")
    serve.add_argument("--timestamp-expiry", type=float, metavar="SECONDS",
                       help="lifetime of a re-signed timestamp (default a day, or $CRYSTAL_SERVER_TIMESTAMP_EXPIRY)")
    serve.set_defaults(func=cmd_serve)
    from crystal_server import batch_cli, key_cli, license_cli, release_cli

    license_cli.register(sub)
    key_cli.register(sub)
    release_cli.register(sub)
    batch_cli.register(sub, main)
    return parser


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """Built once per process: ``batch`` and in-process admin calls parse many command lines, and building
    the parser (~5 ms, mostly argparse's gettext look-ups) cost more than most verbs. Parsing leaves it as
    it was (argparse copies the defaults it appends to)."""
    return build_parser()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crystal-server``."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ServerCliError as exc:
        print(f"crystal-server: {exc}", file=sys.stderr)
        return exc.code
    except LicenseCliError as exc:  # key_cli raises it too: one line, one exit code
        print(f"crystal-server: {exc}", file=sys.stderr)
        return exc.code
    except RepoError as exc:  # release and tuf verbs
        print(f"crystal-server: {exc}", file=sys.stderr)
        return exc.code
    return code


if __name__ == "__main__":
    raise SystemExit(main())
