"""Where a webhook request goes: to the address checked for it, once, with the endpoint's name in
the Host header, in TLS's SNI and in the certificate's check."""

import math
import socket
import ssl
import threading

import pytest

from app.webhooks.guard import UnsafeUrl, parse_url, resolve
from app.webhooks.sender import Attempt, WebhookSender
from tests.servers import Gateway, self_signed_certificate

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def attempt_to(url: str) -> Attempt:
    payload = '{"type": "onRegistered"}'
    return Attempt("dlv_1", "wh_1", "evt_1", url, SECRET, payload, 0, token="t", lease_ends=math.inf)


@pytest.fixture
def dns(monkeypatch):
    """DNS as `hooks.shop.example`'s owner runs it: its answers, in turn, and how often it was
    asked. The second answer is a rebinding attack's, were anyone to ask twice."""
    answers: list[str] = []
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host != "hooks.shop.example":
            return real(host, *args, **kwargs)
        asked.append(host)
        return real(answers[min(len(asked), len(answers)) - 1], *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, asked


@pytest.fixture
def gateway():
    server = Gateway()
    yield server
    server.stop()


def test_the_request_goes_to_the_address_looked_up_once_with_the_name_as_host(gateway, dns):
    port = gateway.server.server_address[1]
    answers, asked = dns
    answers += ["127.0.0.1", "10.9.9.9"]
    sender = WebhookSender(allow_private_urls=True)

    status = sender.send(attempt_to(f"http://hooks.shop.example:{port}/hooks"))

    assert status == 200
    assert len(asked) == 1, "the connection used the answer that was checked, and asked no more"
    [request] = gateway.requests
    assert request.headers["Host"] == f"hooks.shop.example:{port}"
    assert request.path == "/hooks"


def test_a_name_that_resolves_to_loopback_for_real_is_refused_and_not_connected(gateway):
    port = gateway.server.server_address[1]
    sender = WebhookSender(allow_private_urls=False)

    assert sender.send(attempt_to(f"http://localhost:{port}/hooks")) is None
    assert gateway.requests == []
    with pytest.raises(UnsafeUrl, match="private"):
        resolve(parse_url(f"http://localhost:{port}/hooks"), allow_private=False)


class TestTls:
    @pytest.fixture
    def tls_gateway(self, tmp_path, monkeypatch):
        cert, key = self_signed_certificate(tmp_path)  # for localhost and 127.0.0.1
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        names: list[str | None] = []
        context.sni_callback = lambda _socket, name, _context: names.append(name)
        server = Gateway(tls=context)
        server.sni_names = names
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted as the system's CAs are
        yield server
        server.stop()

    def test_sni_and_the_certificate_are_checked_for_the_name_while_connecting_to_the_address(
        self, tls_gateway
    ):
        port = tls_gateway.server.server_address[1]
        sender = WebhookSender(allow_private_urls=True)

        assert sender.send(attempt_to(f"https://localhost:{port}/hooks")) == 200

        assert tls_gateway.sni_names == ["localhost"]
        assert tls_gateway.requests[0].headers["Host"] == f"localhost:{port}"

    def test_a_certificate_for_the_address_but_not_the_name_is_refused(self, tls_gateway, dns):
        port = tls_gateway.server.server_address[1]
        dns[0].append("127.0.0.1")  # the certificate names 127.0.0.1 and localhost, not this name
        sender = WebhookSender(allow_private_urls=True)

        assert sender.send(attempt_to(f"https://hooks.shop.example:{port}/hooks")) is None
        assert tls_gateway.requests == []


def test_a_name_whose_look_up_never_answers_is_given_up_within_the_timeout(monkeypatch):
    """A resolver that never answers (the operating system's, as a dead DNS server leaves it)
    costs the attempt its DNS timeout, not the worker's thread."""
    answer = threading.Event()

    def silent_resolver(*args, **kwargs):
        answer.wait(30)
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", silent_resolver)
    try:
        # Waiting for the resolver would end in its own error ("does not resolve"), 30 s later.
        with pytest.raises(UnsafeUrl, match="did not resolve in time"):
            resolve(parse_url("https://hooks.example.com/x"), allow_private=False, timeout=0.3)
    finally:
        answer.set()


def test_names_whose_dns_never_answers_hold_up_no_other_name(monkeypatch):
    """Endpoints whose DNS is down hold a look-up each, not the look-ups of every other endpoint."""
    answer, resolve_for_real = threading.Event(), socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host.startswith("slow"):
            answer.wait(30)
            raise socket.gaierror("no answer")
        return resolve_for_real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    try:
        for number in range(20):
            with pytest.raises(UnsafeUrl, match="did not resolve in time"):
                resolve(parse_url(f"https://slow{number}.example.com/x"), allow_private=False, timeout=0.05)

        addresses = resolve(parse_url("http://localhost:8080/hooks"), allow_private=True, timeout=2)

        assert [str(address) for address in addresses] in (
            ["127.0.0.1"],
            ["::1", "127.0.0.1"],
            ["127.0.0.1", "::1"],
        )
    finally:
        answer.set()
