"""Raw httpx requests from tests to the reference server on loopback, which speaks plain HTTP.

httpx builds a TLS context for every client, even for an ``http://`` URL, and its default one loads certifi's
~150 CA certificates: ~50 ms of CPU per ``httpx.post``/``httpx.get``/``httpx.Client()``, more than the
request itself. These requests never use TLS, so the context given here trusts no certificate at all
(~0.2 ms): were one ever sent over TLS, it would be refused, never accepted unchecked. The app's own gateway
uses truststore (crystal_manager/net/gateway.py) and is not concerned.
"""

from __future__ import annotations

import ssl


def no_tls() -> ssl.SSLContext:
    """A client TLS context that verifies certificates and host names and trusts no certificate."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
