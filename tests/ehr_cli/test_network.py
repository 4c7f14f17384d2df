"""Connection failures told apart by cause, from real failures of requests (no mocks)."""

import socket
import ssl
import threading

import pytest
import requests

from devstack.emulator.tls import ensure_certificates
from ehr_cli import network


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fix_of(exc: BaseException, host: str) -> str:
    fix = network.describe(exc, host)[1]
    assert fix is not None, "no cause found"
    return fix


def failure(url, **kwargs) -> BaseException:
    with pytest.raises(OSError) as err:  # requests' own errors, and its OSError for a bad CA path
        requests.get(url, timeout=5, **kwargs)
    return err.value


@pytest.fixture
def untrusted_tls(tmp_path):
    """A TLS server whose CA the client does not trust (what a TLS-inspecting proxy looks like)."""
    paths = ensure_certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(paths.server_cert, paths.server_key)
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
                with context.wrap_socket(conn, server_side=True):
                    pass
            except ssl.SSLError:
                continue
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://localhost:{server.getsockname()[1]}/"
    server.close()


def test_an_untrusted_certificate_is_a_certificate_problem_not_the_firewall(untrusted_tls, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    exc = failure(untrusted_tls)
    assert network.cause(exc) == network.CERTIFICATE
    problem, fix = network.describe(exc, "localhost")[0], fix_of(exc, "localhost")
    assert problem.startswith("certificate problem") and "REQUESTS_CA_BUNDLE" in fix
    assert "/etc/ssl/certs/ca-certificates.crt" in fix and "not the problem" in fix


def test_a_ca_bundle_path_that_is_no_file(untrusted_tls):
    exc = failure(untrusted_tls, verify="/no/such/bundle.pem")
    assert network.cause(exc) == network.CA_PATH


def test_a_closed_port_is_the_firewall():
    exc = failure(f"https://127.0.0.1:{closed_port()}/")
    assert network.cause(exc) == network.FIREWALL
    assert "allow outbound HTTPS" in fix_of(exc, "127.0.0.1")


def test_an_unreachable_proxy_is_the_proxy_named_without_its_password(monkeypatch):
    port = closed_port()
    proxy = f"http://ops:s3cret@127.0.0.1:{port}"
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    exc = failure("https://webhook.ingestion.office.com/", proxies={"https": proxy})
    assert network.cause(exc) == network.PROXY
    problem, fix = network.describe(exc, "webhook.ingestion.office.com")
    assert f"http://127.0.0.1:{port}" in fix_of(exc, "webhook.ingestion.office.com")
    assert "s3cret" not in problem + str(fix) and "ops:" not in problem + str(fix)


def test_a_name_that_does_not_resolve_is_dns():
    exc = failure("https://no-such-host.invalid/")
    assert network.cause(exc) == network.DNS
    assert "does not resolve" in fix_of(exc, "no-such-host.invalid")
