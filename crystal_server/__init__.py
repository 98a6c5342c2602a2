"""The reference licensing and update server: a real ASGI app over SQLite, with an admin CLI.

It lives beside the app, never in its bundle, and shares only :mod:`crystal_protocol` with it.
"""

__version__ = "0.1.0"
