"""Webhook delivery (issue #4): one worker as production starts it, a receiver that verifies
every request (tests/servers.py's `WebhookReceiver`), events written as the service writes them."""

import argparse
import json
import logging
import math
import secrets
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, insert, select

from app.db import make_engine
from app.models import webhook_deliveries, webhook_events
from bench.inprocess import make_app
from bench.processes import BenchFailed, CpuClock, child, postgres_pids
from bench.settings import ADMIN_API_KEY, OUT, WEBHOOK_ADMIN
from tests.servers import Delivery, WebhookReceiver

# API.md §3's names: the event types, and a delivery's status once it was answered 2xx.
REGISTERED, REGISTRATION_FAILED = "onRegistered", "onRegistrationFailed"
SUCCEEDED = "succeeded"
REASON = "too_many_attempts"

log = logging.getLogger("bench")


def create_endpoint(environment: dict[str, str], url: str) -> str:
    """An endpoint at `url` for both event types, made through the admin API; its secret."""
    answer = (
        make_app({**environment, **WEBHOOK_ADMIN})
        .test_client()
        .post(
            "/webhooks",
            json={"url": url, "events": [REGISTERED, REGISTRATION_FAILED], "description": "bench receiver"},
            headers={"Authorization": f"Bearer {ADMIN_API_KEY}"},
        )
    )
    if answer.status_code != 201:
        raise BenchFailed(f"the admin API answered {answer.status_code}: {answer.get_data(True)}")
    return answer.get_json()["secret"]


def write_event(engine: Engine, registration_id: str) -> None:
    """One onRegistrationFailed event, a row of `webhook_events` as the service's outbox writes
    it (app/webhooks/outbox.py), in a transaction of its own: committed when this returns."""
    at = datetime.now(UTC)
    data = {
        "registration_id": registration_id,
        "reason": REASON,
        "verified_by": "phone",
        "destination": "+966 55••••567",
        "country_code": "SA",
    }
    timestamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    row = {
        "id": f"evt_{secrets.token_urlsafe(16)}",
        "type": REGISTRATION_FAILED,
        "registration_id": registration_id,
        "dedupe_key": f"{registration_id}:{REASON}",
        "payload": json.dumps(
            {"type": REGISTRATION_FAILED, "timestamp": timestamp, "data": data}, ensure_ascii=False
        ),
        "created_at": at,
        "fanned_out": False,
    }
    with engine.begin() as connection:
        connection.execute(insert(webhook_events), row)


def registration_of(delivery: Delivery) -> str | None:
    """The registration a verified delivery is about, if it is an onRegistrationFailed."""
    body = delivery.body or {}
    return body["data"]["registration_id"] if body.get("type") == REGISTRATION_FAILED else None


def percentile(values: list[float], share: float) -> float:
    """Nearest rank; NaN for no values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else math.nan


@dataclass
class WebhookRun:
    backlog: int  # events of the earlier scenarios (an onRegistered per verify), deleted first
    events: int  # written before the worker started
    write_seconds: float
    worker_started: float  # time.time()
    drained: list[Delivery]  # the receiver's requests while the worker drained `events`
    drain_connections: int  # TCP connections the worker opened for them
    cpu: dict[str, float]  # CPUs busy from the first delivery to the last, by whom
    latency_events: int  # written one at a time, with the worker idle
    latency_rate: float
    latency_written_in: float  # s to write them, against latency_events / rate planned
    latencies: list[float]  # arrival − commit, s, one per event written one at a time
    late: list[Delivery]  # the receiver's requests for those
    unexpected: int  # verified requests for no event written in their scenario
    deliveries: dict[tuple[str, int], int]  # the delivery log: (status, attempts) → count
    returncode: int | None  # the worker's, after SIGTERM
    stop_seconds: float

    @property
    def span(self) -> float:
        times = [delivery.at for delivery in self.drained]
        return max(times) - min(times)

    @property
    def per_second(self) -> float:
        """From the first delivery to the last: (N − 1) intervals."""
        return (len(self.drained) - 1) / self.span if self.span > 0 else 0.0

    @property
    def arrivals(self) -> list[Delivery]:
        return [*self.drained, *self.late]

    @property
    def expected(self) -> int:
        return self.events + self.latency_events

    @property
    def unverified(self) -> int:
        return sum(1 for delivery in self.arrivals if not delivery.verified)

    @property
    def repeated(self) -> int:
        ids = [delivery.webhook_id for delivery in self.arrivals]
        return len(ids) - len(set(ids))

    @property
    def complete(self) -> bool:
        """Every event written was delivered once, verified, and nothing else was."""
        return (
            len(self.arrivals) == self.expected
            and not (self.unverified or self.repeated or self.unexpected)
            and self.deliveries == {(SUCCEEDED, 1): self.expected}
        )

    @property
    def failed(self) -> bool:
        return not self.complete or self.returncode != 0


def wait_for(
    receiver: WebhookReceiver, count: int, seconds: float, worker: subprocess.Popen, quiet: float = 1.0
) -> None:
    """Until `count` requests arrived, then none for `quiet` seconds (a repeat would come soon)."""
    deadline = time.monotonic() + seconds
    last, since = len(receiver.deliveries), time.monotonic()
    while (arrived := len(receiver.deliveries)) < count or time.monotonic() - since < quiet:
        if arrived != last:
            last, since = arrived, time.monotonic()
        if worker.poll() is not None:
            raise BenchFailed(f"the webhook worker exited with {worker.returncode}; see bench/out/worker.log")
        if time.monotonic() > deadline:
            raise BenchFailed(f"{arrived} of {count} webhooks arrived within {seconds:.0f} s")
        time.sleep(0.01)


def delivery_log(engine: Engine) -> dict[tuple[str, int], int]:
    columns = webhook_deliveries.c
    query = select(columns.status, columns.attempts, func.count()).group_by(columns.status, columns.attempts)
    with engine.connect() as connection:
        return {(status, attempts): count for status, attempts, count in connection.execute(query)}


def write_steadily(engine, options: argparse.Namespace) -> tuple[dict[str, float], float]:
    """Events written one at a time at `webhook_rate` a second: when each committed, and how
    long the writing took."""
    committed: dict[str, float] = {}
    begun = time.monotonic()
    for index in range(round(options.webhook_rate * options.webhook_seconds)):
        time.sleep(max(0.0, begun + index / options.webhook_rate - time.monotonic()))
        registration_id = f"reg_benchlat{index:06d}"
        write_event(engine, registration_id)
        committed[registration_id] = time.time()
    return committed, time.monotonic() - begun


def webhook_delivery(environment: dict[str, str], options: argparse.Namespace) -> WebhookRun:
    """N events written, then one worker started to drain them (throughput); then, with the
    worker idle, events one at a time at a steady rate (commit to delivery)."""
    engine = make_engine(environment["DATABASE_URL"])
    receiver = WebhookReceiver(keep_alive=True)
    try:
        with engine.begin() as connection:
            backlog = connection.execute(delete(webhook_events)).rowcount
        receiver.secret = create_endpoint(environment, receiver.url)
        written = [f"reg_benchtput{index:06d}" for index in range(options.webhook_events)]
        begun = time.monotonic()
        for registration_id in written:
            write_event(engine, registration_id)
        write_seconds = time.monotonic() - begun
        log.info("wrote %d events in %.1f s; starting one worker", len(written), write_seconds)
        worker_started = time.time()
        with child(["-m", "app", "worker"], {**environment, **WEBHOOK_ADMIN}, OUT / "worker.log") as worker:
            wait_for(receiver, 1, 30, worker, quiet=0)
            first = CpuClock.read({"worker": [worker.pid], "postgres": postgres_pids()})
            deadline = time.monotonic() + options.webhook_timeout
            while len(receiver.deliveries) < len(written) and time.monotonic() < deadline:
                time.sleep(0.01)
            last = CpuClock.read({"worker": [worker.pid], "postgres": postgres_pids()})
            cpu = {whom: seconds / (last.at - first.at) for whom, seconds in first.until(last).items()}
            wait_for(receiver, len(written), 5, worker)
            drained, drain_connections = receiver.deliveries[:], receiver.connections
            log.info("%d deliveries at %.0f/s", len(drained), (len(drained) - 1) / (last.at - first.at))

            committed, written_in = write_steadily(engine, options)
            count = len(committed)
            wait_for(receiver, len(drained) + count, 30, worker)
            late = receiver.deliveries[len(drained) :]
            stopping = time.monotonic()
        stop_seconds = time.monotonic() - stopping
        arrived = {registration_of(delivery): delivery.at for delivery in reversed(late)}
        unexpected = sum(
            1
            for deliveries, ids in ((drained, set(written)), (late, committed))
            for delivery in deliveries
            if delivery.verified and registration_of(delivery) not in ids
        )
        return WebhookRun(
            backlog=backlog,
            events=len(written),
            write_seconds=write_seconds,
            worker_started=worker_started,
            drained=drained,
            drain_connections=drain_connections,
            cpu=cpu,
            latency_events=count,
            latency_rate=options.webhook_rate,
            latency_written_in=written_in,
            latencies=[arrived[rid] - at for rid, at in committed.items() if rid in arrived],
            late=late,
            unexpected=unexpected,
            deliveries=delivery_log(engine),
            returncode=worker.returncode,
            stop_seconds=stop_seconds,
        )
    finally:
        receiver.stop()
        engine.dispose()
