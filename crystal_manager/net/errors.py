"""Errors of the network layer. Refusals mean nothing was sent; transport errors mean no usable answer."""

from __future__ import annotations


class NetError(Exception):
    """Base of every network-layer error."""


class RequestRefused(NetError):
    """The gateway refused to send: nothing left the machine."""


class UndeclaredFieldError(RequestRefused):
    """A field or header is not declared in the data catalog for this request type."""


class ValueShapeError(RequestRefused):
    """A declared field or header holds a value that does not fit its declared shape (type, format, length,
    sub-fields)."""


class MissingFieldError(RequestRefused):
    """A field the catalog marks required is absent."""


class UnknownRequestTypeError(RequestRefused):
    """The request type is not in the catalog."""


class LedgerUnwritable(RequestRefused):
    """The request could not be recorded in the privacy log first, so it was not sent."""


class InsecureTransportError(RequestRefused):
    """Plain http to a host that is not a loopback address."""


class TransportError(NetError):
    """No usable answer came back: the app treats this as offline, never as a denial."""


class ConnectFailed(TransportError):
    """The server could not be reached (down, DNS, refused)."""


class TimedOut(TransportError):
    """The server did not answer in time (or trickled past the deadline)."""


class TLSFailed(TransportError):
    """The TLS handshake failed: an untrusted certificate, a wrong host name, or TLS inspection."""


class ProxyFailed(TransportError):
    """The configured proxy refused or failed the connection."""


class ResponseTooLarge(TransportError):
    """The answer exceeded the size limit for its request type."""


class ProtocolFailed(TransportError):
    """The server broke HTTP (reset mid-answer, garbage)."""
