"""Wire protocol v1 definitions shared by the app and the reference server (and nothing else).

The server never imports ``crystal_manager`` and the app never imports ``crystal_server``; both may
import this package. It holds data definitions only: header names, error codes, key formats.
"""

PROTOCOL_VERSION = 1
