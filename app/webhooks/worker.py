"""The delivery worker: fans events out to endpoints, delivers them signed, retries, and
announces registrations that lapsed.

At least once: a delivery is leased (`lease_until`) while it is being sent, so a worker
killed at any moment only delays it until the lease runs out. Several workers can run
side by side: claims are single UPDATE statements (with FOR UPDATE SKIP LOCKED on
PostgreSQL), so in the normal case each delivery is sent by one worker once.
"""

import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import Engine, insert, or_, select, update
from standardwebhooks.webhooks import Webhook

from app.codes import VerificationStore
from app.models import utcnow, webhook_deliveries, webhook_endpoints, webhook_events
from app.webhooks.guard import UnsafeUrl, check_url
from app.webhooks.outbox import Failure, Outbox
from app.webhooks.service import FAILED, PENDING, SUCCEEDED, new_delivery

log = logging.getLogger("registrar.webhooks")

REQUEST_TIMEOUT = 10  # seconds, API.md §3
USER_AGENT = "Registrar-Webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """One delivery claimed for sending."""

    id: str
    endpoint_id: str
    event_id: str
    url: str
    secret: str
    payload: str
    attempts: int  # before this one


@dataclass(frozen=True)
class Result:
    status_code: int | None  # None: no answer (refused, timed out, unsafe address)


class DeliveryWorker:
    """Moves the outbox to the subscribers. `run` until `stop` is set; `step` does one round."""

    def __init__(
        self,
        engine: Engine,
        store: VerificationStore,
        outbox: Outbox,
        *,
        schedule: Sequence[int],
        allow_private_urls: bool,
        lease: int = 60,
        batch: int = 100,
        concurrency: int = 16,
        expiry_grace: int = 10,
        sweep_every: float = 5.0,
    ):
        self.engine = engine
        self.store = store
        self.outbox = outbox
        self.schedule = tuple(schedule)
        self.allow_private_urls = allow_private_urls
        self.lease = timedelta(seconds=lease)
        self.batch = batch
        self.expiry_grace_ms = expiry_grace * 1000
        self.sweep_every = sweep_every
        self._next_sweep = 0.0
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._http = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=concurrency)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._http.headers["User-Agent"] = USER_AGENT
        self._skip_locked = engine.dialect.name == "postgresql"

    def run(self, stop: threading.Event, idle: float = 0.2) -> None:
        """Work until `stop` is set, sleeping `idle` seconds whenever there is nothing to do."""
        log.info("webhook worker started")
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception as error:
                # Redis or the database away: wait and try again, never die of it.
                log.warning("webhook worker step failed: %s", type(error).__name__)
                busy = False
            if not busy:
                stop.wait(idle)
        self._pool.shutdown(wait=True)
        log.info("webhook worker stopped")

    def step(self) -> bool:
        """One round: sweep lapsed registrations (now and then), fan out, deliver what is due."""
        if time.monotonic() >= self._next_sweep:
            self.sweep_lapsed()
            self._next_sweep = time.monotonic() + self.sweep_every
        fanned = self.fan_out()
        delivered = self.deliver_due()
        return bool(fanned or delivered)

    def sweep_lapsed(self) -> int:
        """onRegistrationFailed (expired) for registrations that lapsed unverified."""
        notices = self.store.lapsed(int(time.time() * 1000) - self.expiry_grace_ms, limit=self.batch)
        written = 0
        for notice in notices:
            facts = json.loads(notice)
            failure = Failure(facts["id"], "expired", facts["by"], facts["to"], facts["cc"])
            written += self.outbox.expired(failure, at=utcnow())
        self.store.forget_lapsed(notices)
        return written

    def fan_out(self) -> int:
        """One delivery per new event and endpoint subscribed to its type."""
        events = webhook_events.c
        waiting = (
            select(events.id)
            .where(events.fanned_out.is_(False))
            .order_by(events.created_at)
            .limit(self.batch)
        )
        if self._skip_locked:
            waiting = waiting.with_for_update(skip_locked=True)
        now = utcnow()
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(webhook_events)
                .where(events.id.in_(waiting.scalar_subquery()))
                .values(fanned_out=True)
                .returning(events.id, events.type)
            ).all()
            if not claimed:
                return 0
            endpoints = connection.execute(
                select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
                    webhook_endpoints.c.disabled_at.is_(None)
                )
            ).all()
            rows = [
                new_delivery(event.id, endpoint.id, now)
                for event in claimed
                for endpoint in endpoints
                if event.type in endpoint.events.split(",")
            ]
            if rows:
                connection.execute(insert(webhook_deliveries), rows)
        return len(claimed)

    def deliver_due(self) -> int:
        """Claim due deliveries, send them at once, and record what each endpoint answered."""
        attempts = self._claim()
        if not attempts:
            return 0
        results = list(self._pool.map(self._send, attempts))
        self._record(attempts, results)
        return len(attempts)

    def _claim(self) -> list[Attempt]:
        deliveries = webhook_deliveries.c
        now = utcnow()
        due = (
            select(deliveries.id)
            .where(
                deliveries.status == PENDING,
                deliveries.next_attempt_at <= now,
                or_(deliveries.lease_until.is_(None), deliveries.lease_until < now),
            )
            .order_by(deliveries.next_attempt_at)
            .limit(self.batch)
        )
        if self._skip_locked:
            due = due.with_for_update(skip_locked=True)
        with self.engine.begin() as connection:
            ids = (
                connection.execute(
                    update(webhook_deliveries)
                    .where(deliveries.id.in_(due.scalar_subquery()))
                    .values(lease_until=now + self.lease)
                    .returning(deliveries.id)
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            rows = connection.execute(
                select(
                    deliveries.id,
                    deliveries.endpoint_id,
                    deliveries.event_id,
                    deliveries.attempts,
                    webhook_endpoints.c.url,
                    webhook_endpoints.c.secret,
                    webhook_events.c.payload,
                )
                .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.endpoint_id)
                .join(webhook_events, webhook_events.c.id == deliveries.event_id)
                .where(deliveries.id.in_(ids))
            ).all()
        return [
            Attempt(row.id, row.endpoint_id, row.event_id, row.url, row.secret, row.payload, row.attempts)
            for row in rows
        ]

    def _send(self, attempt: Attempt) -> Result:
        """POST the event, signed the Standard Webhooks way; never follow a redirect."""
        try:
            check_url(attempt.url, allow_private=self.allow_private_urls)
        except UnsafeUrl as refusal:
            log.warning("delivery %s not sent: %s", attempt.id, refusal)
            return Result(None)
        sent_at = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": attempt.event_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(attempt.secret).sign(attempt.event_id, sent_at, attempt.payload),
        }
        try:
            response = self._http.post(
                attempt.url,
                data=attempt.payload.encode(),
                headers=headers,
                timeout=(min(5, REQUEST_TIMEOUT), REQUEST_TIMEOUT),
                allow_redirects=False,
            )
        except requests.RequestException as error:
            log.info("delivery %s: no answer (%s)", attempt.id, type(error).__name__)
            return Result(None)
        response.close()
        return Result(response.status_code)

    def _record(self, attempts: list[Attempt], results: list[Result]) -> None:
        now = utcnow()
        deliveries = webhook_deliveries.c
        gone: set[str] = set()
        with self.engine.begin() as connection:
            for attempt, result in zip(attempts, results, strict=True):
                values = {
                    "attempts": attempt.attempts + 1,
                    "last_status_code": result.status_code,
                    "lease_until": None,
                }
                code = result.status_code
                if code is not None and 200 <= code < 300:
                    values.update(status=SUCCEEDED, next_attempt_at=None)
                elif code == 410 or attempt.attempts + 1 > len(self.schedule):
                    values.update(status=FAILED, next_attempt_at=None)
                    if code == 410:
                        gone.add(attempt.endpoint_id)
                else:
                    wait = self.schedule[attempt.attempts] * random.uniform(0.9, 1.1)
                    values.update(next_attempt_at=now + timedelta(seconds=wait))
                connection.execute(
                    update(webhook_deliveries).where(deliveries.id == attempt.id).values(**values)
                )
            for endpoint_id in gone:
                # 410 Gone: the subscriber says the endpoint is no more.
                connection.execute(
                    update(webhook_endpoints)
                    .where(webhook_endpoints.c.id == endpoint_id)
                    .values(disabled_at=now)
                )
                connection.execute(
                    update(webhook_deliveries)
                    .where(deliveries.endpoint_id == endpoint_id, deliveries.status == PENDING)
                    .values(status=FAILED, next_attempt_at=None, lease_until=None)
                )
                log.warning("webhook endpoint %s answered 410 Gone: disabled", endpoint_id)
