"""TLS through the gateway against the reference server with trustme certificates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from crystal_manager.net.errors import TLSFailed
from crystal_manager.net.gateway import Gateway
from crystal_manager.net.request import OutboundRequest
from crystal_manager.privacy.ledger import Ledger
from tests.support.servers import ReferenceServer, init_server_dir, run_reference_server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_server(tmp: Path, ca: trustme.CA, hostname: str) -> Iterator[ReferenceServer]:
    cert = ca.issue_cert(hostname)
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    data_dir = init_server_dir(tmp / "server")
    with run_reference_server(data_dir, tls=(cert_file, key_file)) as server:
        yield server


@pytest.fixture
def good_tls(tmp_path: Path, ca: trustme.CA) -> Iterator[ReferenceServer]:
    yield from _tls_server(tmp_path, ca, "127.0.0.1")


@pytest.fixture
def wrong_host_tls(tmp_path: Path, ca: trustme.CA) -> Iterator[ReferenceServer]:
    yield from _tls_server(tmp_path, ca, "licensing.other-vendor.example")


def _ca_file(tmp_path: Path, ca: trustme.CA) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_trusted_certificate(good_tls: ReferenceServer, tmp_path: Path, ca: trustme.CA) -> None:
    with Gateway(base_url=good_tls.url, ledger=Ledger(tmp_path / "l"), ca_file=_ca_file(tmp_path, ca)) as gw:
        assert gw.send(OutboundRequest(kind="health")).status == 200


def test_untrusted_certificate_fails_closed(good_tls: ReferenceServer, tmp_path: Path) -> None:
    with Gateway(base_url=good_tls.url, ledger=Ledger(tmp_path / "l"), sleep=lambda _s: None) as gw, \
            pytest.raises(TLSFailed, match="certificate"):
        gw.send(OutboundRequest(kind="health"))


def test_wrong_host_name_fails_closed(wrong_host_tls: ReferenceServer, tmp_path: Path,
                                      ca: trustme.CA) -> None:
    with Gateway(base_url=wrong_host_tls.url, ledger=Ledger(tmp_path / "l"), ca_file=_ca_file(tmp_path, ca),
                 sleep=lambda _s: None) as gw, pytest.raises(TLSFailed):
        gw.send(OutboundRequest(kind="health"))
