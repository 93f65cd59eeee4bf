"""Slow subscribers: an endpoint that trickles its answer a byte at a time (each read well under
the read timeout) is cut off at the attempt's deadline, holds at most its share of the worker's
threads meanwhile, and holds up no other endpoint's deliveries."""

import contextlib
import socket
import threading
import time

import pytest

from app.codes import Failure, FailureReason
from app.webhooks.deadline import Pool, attempt_deadline
from tests.api.test_webhooks import ADMIN, run_until_idle, subscribe, worker_of
from tests.servers import WebhookReceiver
from tests.support import MASKED_PHONE


class TricklingServer:
    """An endpoint that reads the request, sends its status line, then one header byte every
    `pace` seconds for ever. `open` counts the connections it is trickling to now; `hung_up`
    those the client closed under it."""

    def __init__(self, pace: float = 0.2):
        self.pace = pace
        self.open = self.hung_up = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hooks"
        threading.Thread(target=self._accept, daemon=True).start()

    def wait_for_hang_up(self, count: int = 1, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while self.hung_up < count:
            assert time.monotonic() < deadline, f"{self.hung_up} connections closed, wanted {count}"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        with connection, self._counted():
            request = b""
            while b"\r\n\r\n" not in request:
                if not (chunk := connection.recv(65536)):
                    return
                request += chunk
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\nX-Trickle: ")
                while not self._stopping.wait(self.pace):
                    connection.sendall(b"a")
            except OSError:
                with self._lock:
                    self.hung_up += 1

    @contextlib.contextmanager
    def _counted(self):
        with self._lock:
            self.open += 1
        try:
            yield
        finally:
            with self._lock:
                self.open -= 1


@pytest.fixture
def trickling():
    servers: list[TricklingServer] = []

    def make() -> TricklingServer:
        servers.append(TricklingServer())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def make_admin_app(make_app):
    return lambda **settings: make_app(
        ADMIN_API_KEY=ADMIN["Authorization"].removeprefix("Bearer "),
        WEBHOOK_ALLOW_PRIVATE_URLS="true",
        **settings,
    )


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def subscribe_url(client, url: str) -> str:
    response = client.post("/webhooks", json={"url": url, "events": ["onRegistrationFailed"]}, headers=ADMIN)
    assert response.status_code == 201
    return response.get_json()["id"]


def record_failures(app, count: int) -> None:
    outbox = app.extensions["registrar"].registration.outbox
    for number in range(count):
        reason = FailureReason.CODE_DELIVERY_FAILED
        outbox.record(Failure(f"reg_slow{number:04d}", reason, "phone", MASKED_PHONE, "SA"))


def log_of(client, endpoint_id: str) -> list[tuple[str, int, int | None]]:
    entries = client.get(f"/webhooks/{endpoint_id}/deliveries", headers=ADMIN).get_json()
    return sorted((entry["status"], entry["attempts"], entry["last_status_code"]) for entry in entries)


def test_a_trickled_answer_is_cut_off_at_the_deadline_and_counts_as_no_answer(make_admin_app, trickling):
    slow = trickling()
    app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="300")
    client = app.test_client()
    endpoint_id = subscribe_url(client, slow.url)
    record_failures(app, 1)

    run_until_idle(worker_of(app, attempt_deadline=1))

    slow.wait_for_hang_up()  # the worker closed the socket; the server would trickle for ever
    assert log_of(client, endpoint_id) == [("pending", 1, None)], "a failed attempt, retried later"


def test_a_healthy_endpoint_is_served_and_recorded_while_slow_ones_trickle(
    make_admin_app, trickling, receiver
):
    slow = [trickling() for _ in range(3)]
    app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="300")
    client = app.test_client()
    slow_ids = [subscribe_url(client, server.url) for server in slow]
    healthy_id = subscribe(client, receiver, events=["onRegistrationFailed"])["id"]
    record_failures(app, 4)  # 4 deliveries to each endpoint: 12 of them trickled
    # Four threads: without a cap per endpoint the trickles would take them all.
    worker = worker_of(app, concurrency=4, per_endpoint=1, attempt_deadline=8)
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    running.start()
    try:
        receiver.wait_for(4, timeout=6)
        until = time.monotonic() + 5
        while log_of(client, healthy_id) != [("succeeded", 1, 200)] * 4:
            assert time.monotonic() < until, log_of(client, healthy_id)
            time.sleep(0.05)
        # The healthy endpoint's deliveries were recorded as they ended, while the first
        # delivery to each slow endpoint is still being trickled, and nothing more to it.
        assert [log_of(client, endpoint_id) for endpoint_id in slow_ids] == [[("pending", 0, None)] * 4] * 3
        assert [server.open for server in slow] == [1, 1, 1]
    finally:
        stop.set()
        running.join(30)
    # Stopping, the worker recorded the sends it had started, cut at their deadline.
    assert [log_of(client, endpoint_id).count(("pending", 1, None)) for endpoint_id in slow_ids] == [1, 1, 1]


def test_no_send_starts_once_its_claims_lease_has_run_out(make_admin_app):
    silent = WebhookReceiver(delay=30)  # takes each request, answers none
    try:
        app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="300")
        client = app.test_client()
        endpoint_id = subscribe(client, silent, events=["onRegistrationFailed"])["id"]
        record_failures(app, 5)
        worker = worker_of(app, lease=2, per_endpoint=1, attempt_deadline=1.5)
        worker.fan_out()

        worker.deliver_due()  # one claim of five, sent one at a time, cut after 1.5 s each
        worker.settle()
    finally:
        silent.stop()

    log = log_of(client, endpoint_id)
    sent = log.count(("pending", 1, None))
    assert 0 < sent == len(silent.deliveries) < 5
    assert log.count(("pending", 0, None)) == 5 - sent, "the rest wait, unattempted, for the next claim"


def test_a_shorter_deadline_begun_while_a_longer_one_runs_still_cuts_its_read_in_time():
    """The watchdog sleeps until the earliest deadline: one that comes first must wake it."""
    silent = socket.create_server(("127.0.0.1", 0))  # takes connections, never answers
    port = silent.getsockname()[1]
    long_running, release = threading.Event(), threading.Event()

    def hold_a_long_deadline() -> None:
        with attempt_deadline(30):
            long_running.set()
            release.wait(10)

    holder = threading.Thread(target=hold_a_long_deadline, daemon=True)
    holder.start()
    assert long_running.wait(5)
    try:
        begun = time.monotonic()
        with attempt_deadline(0.3) as deadline, pytest.raises(Exception):  # noqa: B017 (cut: any error)
            Pool("127.0.0.1", port, timeout=10, retries=False).urlopen("POST", "/", body=b"{}")
        assert deadline.passed
        assert time.monotonic() - begun < 3, "cut at its own deadline, not at the read timeout"
    finally:
        release.set()
        holder.join(5)
        silent.close()
