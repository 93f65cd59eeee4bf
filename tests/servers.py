"""Real peers for the channel tests: an HTTP SMS gateway and an SMTP server, on loopback."""

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _LoopbackServer(ThreadingHTTPServer):
    """A thread per connection; a backlog for a burst of connections (the default is 5)."""

    daemon_threads = True
    request_queue_size = 128


@dataclass
class GatewayRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Gateway:
    """An HTTP server that records what it is sent and answers as told.

    `status` is the answer's status; `delay` seconds pass before it; `hang` holds the
    connection open without answering until the gateway stops. With `tls` it speaks HTTPS.
    With `keep_alive` it speaks HTTP/1.1 and keeps connections open for the next message, as
    production gateways do.
    """

    status: int = 200
    delay: float = 0.0
    hang: bool = False
    tls: ssl.SSLContext | None = None
    keep_alive: bool = False
    requests: list[GatewayRequest] = field(default_factory=list)

    def __post_init__(self):
        gateway = self
        self._stopping = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if gateway.keep_alive else "HTTP/1.0"
            # The answer leaves in two writes; on a kept-alive connection Nagle's algorithm
            # would hold the second until the client's delayed ACK, about 40 ms.
            disable_nagle_algorithm = gateway.keep_alive

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                gateway.requests.append(GatewayRequest("POST", self.path, dict(self.headers), body))
                if gateway.hang:
                    gateway._stopping.wait(30)
                    return
                time.sleep(gateway.delay)
                payload = b'{"sid": "SM00000000000000000000000000000000"}'
                self.send_response(gateway.status)
                if 300 <= gateway.status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = _LoopbackServer(("127.0.0.1", 0), Handler)
        if self.tls:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise AssertionError(f"no {content_type} part")


class _Collector:
    def __init__(self, inbox: list[ReceivedMail]):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.inbox.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, user: str, password: str):
        self.user, self.password = user, password
        self.logins: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            self.logins.append(auth_data.login.decode())
            ok = (auth_data.login.decode(), auth_data.password.decode()) == (self.user, self.password)
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)


class SmtpServer:
    """aiosmtpd on loopback, keeping every mail it accepts in `inbox`."""

    def __init__(
        self,
        *,
        login: tuple[str, str] | None = None,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ):
        self.inbox: list[ReceivedMail] = []
        self.authenticator = _Authenticator(*login) if login else None
        options = {}
        if self.authenticator:
            options.update(authenticator=self.authenticator, auth_require_tls=starttls is not None)
        if starttls:
            options.update(tls_context=starttls, require_starttls=True)
        self.port = free_port()  # aiosmtpd checks its server by connecting, so no port 0
        self.controller = Controller(
            _Collector(self.inbox),
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=implicit_tls,
            server_hostname="localhost",
            **options,
        )
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key, as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Delivery:
    """One request the receiver got, and whether its signature held."""

    webhook_id: str
    body: dict | None
    verified: bool
    at: float


class WebhookReceiver:
    """A subscriber: verifies every request with `standardwebhooks.Webhook(secret)`.

    `answers` is a list of statuses to give, one per request, then `status` for the rest;
    `delay` seconds pass before each answer. With `keep_alive` it speaks HTTP/1.1 and keeps
    connections open; `connections` counts those it accepted. With `endless_answer` each
    answer's body never ends: 1 MiB announced, 128 KiB sent, then nothing until `stop`.
    """

    def __init__(
        self,
        *,
        status: int = 200,
        answers: list[int] | None = None,
        delay: float = 0.0,
        keep_alive: bool = False,
        endless_answer: bool = False,
    ):
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        self.secret: str | None = None
        self.status = status
        self.answers = list(answers or [])
        self.delay = delay
        self.deliveries: list[Delivery] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self):
                super().setup()
                with receiver._lock:
                    receiver.connections += 1

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = Webhook(receiver.secret).verify(body, dict(self.headers))
                    verified = True
                except (WebhookVerificationError, TypeError, ValueError):
                    payload, verified = None, False
                with receiver._lock:
                    receiver.deliveries.append(
                        Delivery(self.headers.get("webhook-id", ""), payload, verified, time.time())
                    )
                    status = receiver.answers.pop(0) if receiver.answers else receiver.status
                if receiver._stopping.wait(receiver.delay):
                    self.close_connection = True
                    return  # stopping: hang up without an answer
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/moved")
                if endless_answer:
                    self.send_endless_body()
                    return
                self.send_header("Content-Length", "0")
                self.end_headers()

            def send_endless_body(self):
                self.send_header("Content-Length", str(1024 * 1024))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client hung up, as it should
                    self.wfile.write(b"x" * 128 * 1024)
                receiver._stopping.wait(30)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = _LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, event_type: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.body and d.body["type"] == event_type]

    def wait_for(self, count: int, timeout: float = 30) -> None:
        """Until `count` different events have arrived, or fail."""
        deadline = time.monotonic() + timeout
        while len({d.webhook_id for d in self.deliveries}) < count:
            assert time.monotonic() < deadline, f"{len(self.deliveries)} deliveries, wanted {count} events"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()


class TcpProxy:
    """Forwards a local port to `target`; `stop` refuses connections (and cuts open ones)
    until `start`, as a database that went away and came back would."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would leave the
            # socket listening until that accept returned.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


class Answer:
    """A requests response, read the way Flask's test client reads its own."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.headers = response.headers
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0].strip()
        self._body = response.content

    def get_data(self, as_text: bool = False):
        return self._body.decode("utf-8", "replace") if as_text else self._body

    def get_json(self):
        try:
            return json.loads(self._body)
        except ValueError:
            return None


class KeptAliveClient:
    """One requests session to a real server, posting like Flask's test client. It counts the
    TCP connections it opens: after the first, each must follow an answer that said
    `Connection: close`. Any other is a connection the server dropped while promising to keep
    it (API.md §4), which a client sending its next request at that moment sees unanswered."""

    def __init__(self, base_url: str):
        import requests
        from urllib3 import HTTPConnectionPool
        from urllib3.connection import HTTPConnection

        self.base_url = base_url
        self.connections = 0
        self.announced_closes = 0
        client = self

        class CountedConnection(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                client.connections += 1

        class CountedPool(HTTPConnectionPool):
            ConnectionCls = CountedConnection

        self.session = requests.Session()
        self.session.get_adapter(base_url).poolmanager.pool_classes_by_scheme = {"http": CountedPool}

    def post(self, path: str, data=None, json=None, content_type=None, headers=None) -> Answer:
        headers = dict(headers or {})
        if json is not None:
            data, content_type = _json_dumps(json), "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.request("POST", path, data=data, headers=headers)

    def get(self, path: str, headers=None) -> Answer:
        return self.request("GET", path, headers=headers)

    def request(self, method: str, path: str, **kwargs) -> Answer:
        response = self.session.request(method, f"{self.base_url}{path}", timeout=30, **kwargs)
        self.count(response)
        return Answer(response)

    def count(self, response) -> None:
        """Note an answer that announced closing its connection (for answers got elsewhere
        on this session, such as schemathesis')."""
        if response.headers.get("Connection", "").lower() == "close":
            self.announced_closes += 1

    def assert_no_connection_was_dropped(self) -> None:
        assert self.connections <= 1 + self.announced_closes, (
            f"{self.connections} connections for {self.announced_closes} announced closes: "
            "the server dropped a kept-alive connection"
        )

    def close(self) -> None:
        self.session.close()


def _json_dumps(value) -> bytes:
    return json.dumps(value).encode()
