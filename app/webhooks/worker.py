"""The delivery worker: fans events out to endpoints, delivers them signed, retries, announces
lapsed registrations and deletes old events. At least once: a delivery is leased while it is sent,
so a worker killed at any moment only delays it, and one whose lease ran out cannot overwrite what
the next one recorded. Claims are single UPDATEs (SKIP LOCKED on PostgreSQL), so workers side by
side normally send it once. Each send is recorded as soon as it ends, whatever the others do."""

import contextlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, Row, Select, Update, bindparam, insert, or_, select, update

from app.codes import CodeStore, Failure
from app.models import utcnow, webhook_deliveries, webhook_endpoints, webhook_events
from app.webhooks.dispatch import Dispatcher, Outcome
from app.webhooks.outbox import FAILED, PENDING, STATE_FIELDS, Outbox, after_attempt, new_delivery
from app.webhooks.sender import REQUEST_TIMEOUT, Attempt, WebhookSender

log = logging.getLogger("registrar.webhooks")

deliveries, endpoints, events = webhook_deliveries.c, webhook_endpoints.c, webhook_events.c
_ENABLED = endpoints.disabled_at.is_(None)
_ATTEMPTS = (
    select(
        *deliveries["id", "endpoint_id", "event_id", "attempts"], *endpoints["url", "secret"], events.payload
    )
    .join(webhook_endpoints, endpoints.id == deliveries.endpoint_id)
    .join(webhook_events, events.id == deliveries.event_id)
)
# Outcomes, each applied only where its worker still holds the lease.
_RECORD = (
    update(webhook_deliveries)
    .where(deliveries.id == bindparam("delivery"), deliveries.lease_token == bindparam("holder"))
    .values({name: bindparam(name) for name in STATE_FIELDS})
)


@dataclass(frozen=True)
class Pacing:
    """How much the worker takes on at once, and how long it holds and waits for it (seconds)."""

    lease: int = 60
    batch: int = 100
    concurrency: int = 64  # sends at once, in all
    per_endpoint: int = 2  # sends at once to one endpoint: a slow one holds few threads
    expiry_grace: int = 40  # before a lapse is announced, for a last-moment verify to commit
    sweep_every: float = 5.0
    prune_every: float = 60.0
    # A whole attempt, an answer trickled byte by byte included: past it, the socket is shut.
    attempt_deadline: float = REQUEST_TIMEOUT


@dataclass
class DeliveryWorker:
    """Moves the outbox to the subscribers. `run` until `stop` is set; `step` does one round."""

    engine: Engine
    store: CodeStore
    outbox: Outbox
    _: KW_ONLY
    schedule: Sequence[int]
    allow_private_urls: bool
    pacing: Pacing = Pacing()
    event_retention: int = 30 * 86400  # seconds an event is kept once nothing is pending for it

    def __post_init__(self) -> None:
        self._next_sweep = self._next_prune = 0.0
        sender = WebhookSender(
            allow_private_urls=self.allow_private_urls, deadline=self.pacing.attempt_deadline
        )
        self._sends = Dispatcher(
            sender.send, concurrency=self.pacing.concurrency, per_endpoint=self.pacing.per_endpoint
        )

    def run(self, stop: threading.Event, idle: float = 0.2) -> None:
        """Work until `stop` is set, waiting up to `idle` seconds (less if a send ends) whenever
        there is nothing to do; then record the sends still running, and stop."""
        log.info("webhook worker started")
        while not stop.is_set():
            busy = False
            with _logged("webhook worker step"):  # the database away: wait and try again, never die of it
                busy = self.step()
            if not busy:
                self._sends.wait(idle)
        self._sends.abandon()
        with _logged("recording the last sends"):  # unrecorded, they are sent again once their lease runs out
            self.settle(timeout=self.pacing.attempt_deadline + 5)
        self._sends.shutdown()
        log.info("webhook worker stopped")

    def step(self) -> bool:
        """One round: sweep lapsed registrations and delete old events (now and then), record the
        sends that ended, fan out, claim and start what is due. Whether there was anything to do."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.pacing.sweep_every
            with _logged("sweep of lapsed registrations"):  # Redis away: lapses wait, deliveries go on
                self.sweep_lapsed()
        if now >= self._next_prune:
            self._next_prune = now + self.pacing.prune_every
            self.outbox.prune(utcnow() - timedelta(seconds=self.event_retention), self.pacing.batch)
        return bool(self.record_ended() + self.fan_out() + self.deliver_due())

    def settle(self, timeout: float = 60) -> None:
        """Until every delivery claimed was sent and recorded, or dropped with its lease."""
        deadline = time.monotonic() + timeout
        while self._sends.busy:
            if time.monotonic() > deadline:
                raise TimeoutError("the sends did not end in time")
            self._sends.wait(0.05)
            self.record_ended()
        self.record_ended()

    def sweep_lapsed(self) -> None:
        """Announce lapsed registrations, up to 10 batches: `expired` if nothing else was said of
        them, or the failure their notice names if its event was lost."""
        for _ in range(10):
            lapsed_by = int(time.time() * 1000) - self.pacing.expiry_grace * 1000
            notices = self.store.lapsed(lapsed_by, limit=self.pacing.batch)
            for notice in notices:
                try:
                    failure = Failure.from_notice(notice)
                except (ValueError, KeyError):  # unreadable: dropped, so that it holds up no other
                    log.warning("an expiry notice could not be read, and is dropped")
                    continue
                self.outbox.record(failure, at=utcnow())
            self.store.forget_lapsed(notices)
            if len(notices) < self.pacing.batch:
                break

    def fan_out(self) -> int:
        """One delivery per new event and endpoint subscribed to its type."""
        waiting = select(events.id).where(events.fanned_out.is_(False)).order_by(events.created_at)
        claim = update(webhook_events).values(fanned_out=True).returning(events.id, events.type)
        now = utcnow()
        with self.engine.begin() as connection:
            claimed = self._claim_first(connection, waiting, claim, self.pacing.batch)
            if not claimed:
                return 0
            subscribers = connection.execute(select(endpoints.id, endpoints.events).where(_ENABLED)).all()
            rows = [
                new_delivery(event.id, endpoint.id, now)
                for event in claimed
                for endpoint in subscribers
                if event.type in endpoint.events.split(",")
            ]
            if rows:
                connection.execute(insert(webhook_deliveries), rows)
        return len(claimed)

    def deliver_due(self) -> int:
        """Claim due deliveries, none for an endpoint that has some waiting here already, and start
        what the limits allow; each is recorded once it ends. How many were claimed."""
        waiting = self._sends.waiting()  # claiming more for their endpoints would only queue
        room = self.pacing.batch - len(waiting)
        claimed = self._claim(room, skip={attempt.endpoint_id for attempt in waiting}) if room > 0 else []
        self._sends.start(claimed)  # and what was waiting
        return len(claimed)

    def record_ended(self) -> int:
        """Record what the sends that ended since the last call were answered; how many."""
        return self._record(self._sends.ended())

    def _claim_first(
        self, connection: Connection, waiting: Select, claim: Update, limit: int
    ) -> Sequence[Row]:
        """Apply `claim` to the first `limit` rows `waiting` selects, skipping those another
        worker holds locked (on PostgreSQL); what `claim` returns."""
        waiting = waiting.limit(limit)
        if self.engine.dialect.name == "postgresql":
            waiting = waiting.with_for_update(skip_locked=True)
        return connection.execute(claim.where(claim.table.c.id.in_(waiting.scalar_subquery()))).all()

    def _claim(self, limit: int, skip: set[str]) -> list[Attempt]:
        token, lease_ends, now = secrets.token_hex(8), time.monotonic() + self.pacing.lease, utcnow()
        due = select(deliveries.id).where(
            deliveries.status == PENDING,
            deliveries.next_attempt_at <= now,
            or_(deliveries.lease_until.is_(None), deliveries.lease_until < now),
            deliveries.endpoint_id.in_(select(endpoints.id).where(_ENABLED)),
        )
        if skip:
            due = due.where(deliveries.endpoint_id.not_in(skip))
        lease = {"lease_until": now + timedelta(seconds=self.pacing.lease), "lease_token": token}
        claim = update(webhook_deliveries).values(lease).returning(deliveries.id)
        with self.engine.begin() as connection:
            waiting = due.order_by(deliveries.next_attempt_at)
            claimed = self._claim_first(connection, waiting, claim, limit)
            if not claimed:
                return []
            rows = connection.execute(_ATTEMPTS.where(deliveries.id.in_([row.id for row in claimed]))).all()
        return [Attempt(**row._mapping, token=token, lease_ends=lease_ends) for row in rows]

    def _record(self, outcomes: Sequence[Outcome]) -> int:
        if not outcomes:
            return 0
        now = utcnow()
        gone: set[str] = set()
        states = []
        for attempt, status_code in outcomes:
            state = after_attempt(attempt.attempts, status_code, self.schedule, now, random.uniform(0.9, 1.1))
            states.append({**state, "delivery": attempt.id, "holder": attempt.token})
            if status_code == 410:
                gone.add(attempt.endpoint_id)
                self._sends.abandon(attempt.endpoint_id)
        with self.engine.begin() as connection:
            connection.execute(_RECORD, states)
            if gone:  # 410 Gone: the subscriber says the endpoint is no more
                connection.execute(
                    update(webhook_endpoints).where(endpoints.id.in_(gone)).values(disabled_at=now)
                )
                connection.execute(
                    update(webhook_deliveries)
                    .where(deliveries.endpoint_id.in_(gone), deliveries.status == PENDING)
                    .values(status=FAILED, next_attempt_at=None, lease_until=None, lease_token=None)
                )
                log.warning("webhook endpoints %s answered 410 Gone: disabled", ", ".join(sorted(gone)))
        return len(outcomes)


@contextlib.contextmanager
def _logged(action: str) -> Iterator[None]:
    """Log that `action` failed, and go on."""
    try:
        yield
    except Exception as error:
        log.warning("%s failed: %s", action, type(error).__name__)
