"""The delivery worker: fans events out to endpoints, delivers them signed, retries, and announces
lapsed registrations. At least once: a delivery is leased while it is sent, so a worker killed at any
moment only delays it, and one whose lease ran out cannot overwrite what the next one recorded.
Claims are single UPDATEs (SKIP LOCKED on PostgreSQL), so workers side by side normally send it once."""

import logging
import random
import secrets
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, Row, Select, Update, bindparam, insert, or_, select, update

from app.codes import CodeStore, Failure
from app.models import utcnow, webhook_deliveries, webhook_endpoints, webhook_events
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
# A batch of outcomes, each applied only where this worker still holds the lease.
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
    concurrency: int = 16
    expiry_grace: int = 40  # before a lapse is announced, for a last-moment verify to commit
    sweep_every: float = 5.0
    # An answer trickled byte by byte defeats per-read timeouts: past this, it counts as none.
    attempt_deadline: float = 2 * REQUEST_TIMEOUT


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

    def __post_init__(self) -> None:
        self._next_sweep = 0.0
        concurrency = self.pacing.concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self.sender = WebhookSender(allow_private_urls=self.allow_private_urls, concurrency=concurrency)
        self._skip_locked = self.engine.dialect.name == "postgresql"

    def run(self, stop: threading.Event, idle: float = 0.2) -> None:
        """Work until `stop` is set, sleeping `idle` seconds whenever there is nothing to do."""
        log.info("webhook worker started")
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception as error:  # the database away: wait and try again, never die of it
                log.warning("webhook worker step failed: %s", type(error).__name__)
                busy = False
            if not busy:
                stop.wait(idle)
        self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("webhook worker stopped")

    def step(self) -> bool:
        """One round: sweep lapsed registrations (now and then), fan out, deliver what is due."""
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.pacing.sweep_every
            try:
                self.sweep_lapsed()
            except Exception as error:  # Redis away: lapses wait, deliveries (in SQL) go on
                log.warning("sweep of lapsed registrations failed: %s", type(error).__name__)
        fanned = self.fan_out()
        delivered = self.deliver_due()
        return bool(fanned or delivered)

    def sweep_lapsed(self, rounds: int = 10) -> int:
        """Announce lapsed registrations: `expired` if nothing else was said of them, or the
        failure their notice names if its event was lost."""
        written = 0
        for _ in range(rounds):
            lapsed_by = int(time.time() * 1000) - self.pacing.expiry_grace * 1000
            notices = self.store.lapsed(lapsed_by, limit=self.pacing.batch)
            for notice in notices:
                try:
                    failure = Failure.from_notice(notice)
                except (ValueError, KeyError):  # unreadable: dropped, so that it holds up no other
                    log.warning("an expiry notice could not be read, and is dropped")
                    continue
                written += self.outbox.at_lapse(failure, at=utcnow())
            self.store.forget_lapsed(notices)
            if len(notices) < self.pacing.batch:
                break
        return written

    def fan_out(self) -> int:
        """One delivery per new event and endpoint subscribed to its type."""
        waiting = select(events.id).where(events.fanned_out.is_(False)).order_by(events.created_at)
        claim = update(webhook_events).values(fanned_out=True).returning(events.id, events.type)
        now = utcnow()
        with self.engine.begin() as connection:
            claimed = self._claim_first(connection, waiting, claim)
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
        """Claim due deliveries, send them at once, and record what each endpoint answered."""
        token = secrets.token_hex(8)
        attempts = self._claim(token)
        if not attempts:
            return 0
        sending = {self._pool.submit(self.sender.send, attempt): attempt for attempt in attempts}
        done, _late = wait(sending, timeout=self.pacing.attempt_deadline)
        answers = {sending[future].id: future.result() for future in done}
        self._record(token, [(attempt, answers.get(attempt.id)) for attempt in attempts])
        return len(attempts)

    def _claim_first(self, connection: Connection, waiting: Select, claim: Update) -> Sequence[Row]:
        """Apply `claim` to the first `batch` rows `waiting` selects, skipping those another
        worker holds locked (on PostgreSQL); what `claim` returns."""
        waiting = waiting.limit(self.pacing.batch)
        if self._skip_locked:
            waiting = waiting.with_for_update(skip_locked=True)
        return connection.execute(claim.where(claim.table.c.id.in_(waiting.scalar_subquery()))).all()

    def _claim(self, token: str) -> list[Attempt]:
        now = utcnow()
        due = select(deliveries.id).where(
            deliveries.status == PENDING,
            deliveries.next_attempt_at <= now,
            or_(deliveries.lease_until.is_(None), deliveries.lease_until < now),
            deliveries.endpoint_id.in_(select(endpoints.id).where(_ENABLED)),
        )
        lease = {"lease_until": now + timedelta(seconds=self.pacing.lease), "lease_token": token}
        claim = update(webhook_deliveries).values(lease).returning(deliveries.id)
        with self.engine.begin() as connection:
            claimed = self._claim_first(connection, due.order_by(deliveries.next_attempt_at), claim)
            if not claimed:
                return []
            rows = connection.execute(_ATTEMPTS.where(deliveries.id.in_([row.id for row in claimed]))).all()
        return [Attempt(**row._mapping) for row in rows]

    def _record(self, token: str, outcomes: list[tuple[Attempt, int | None]]) -> None:
        now = utcnow()
        gone: set[str] = set()
        states = []
        for attempt, status_code in outcomes:
            state = after_attempt(attempt.attempts, status_code, self.schedule, now, random.uniform(0.9, 1.1))
            states.append({**state, "delivery": attempt.id, "holder": token})
            if status_code == 410:
                gone.add(attempt.endpoint_id)
        with self.engine.begin() as connection:
            connection.execute(_RECORD, states)
            for endpoint_id in gone:  # 410 Gone: the subscriber says the endpoint is no more
                connection.execute(
                    update(webhook_endpoints).where(endpoints.id == endpoint_id).values(disabled_at=now)
                )
                connection.execute(
                    update(webhook_deliveries)
                    .where(deliveries.endpoint_id == endpoint_id, deliveries.status == PENDING)
                    .values(status=FAILED, next_attempt_at=None, lease_until=None, lease_token=None)
                )
                log.warning("webhook endpoint %s answered 410 Gone: disabled", endpoint_id)
