"""The outbox: events written to SQL with the change that caused them, one per registration and
outcome (`dedupe_key` is unique), their body fixed (the same bytes under the same `webhook-id` to
every endpoint, at every attempt); and their deliveries: pending, then succeeded, retried or failed."""

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exists, insert, literal, select
from sqlalchemy.exc import IntegrityError

from app.codes import Failure, FailureReason, new_identifier
from app.models import utcnow, webhook_deliveries, webhook_events

REGISTERED, REGISTRATION_FAILED = "onRegistered", "onRegistrationFailed"
EVENT_TYPES = (REGISTERED, REGISTRATION_FAILED)
_REGISTERED_DEDUPE = "registered"  # the dedupe reason of onRegistered: one per registration
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
# What `after_attempt` sets, whatever the outcome.
STATE_FIELDS = ("attempts", "last_status_code", "lease_until", "lease_token", "status", "next_attempt_at")


def _row(event_type: str, registration_id: str, dedupe: str, data: dict, at: datetime) -> dict:
    timestamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {"type": event_type, "timestamp": timestamp, "data": data}
    return {
        "id": new_identifier("evt"),
        "type": event_type,
        "registration_id": registration_id,
        "dedupe_key": f"{registration_id}:{dedupe}",
        "payload": json.dumps(body, ensure_ascii=False),
        "created_at": at,
        "fanned_out": False,
    }


@dataclass(frozen=True)
class Outbox:
    """Writes events; `app.webhooks.worker` fans them out to endpoints and delivers them."""

    engine: Engine

    @staticmethod
    def registered(registration_id: str, customer: dict, channel: str, at: datetime) -> dict:
        """The `webhook_events` row of onRegistered, for the statement creating the account to insert."""
        data = {"registration_id": registration_id, "customer": customer, "channel": channel}
        return _row(REGISTERED, registration_id, _REGISTERED_DEDUPE, data, at)

    def has_registered(self, registration_id: str) -> bool:
        """Whether the registration's onRegistered is written, and so its account exists."""
        key = f"{registration_id}:{_REGISTERED_DEDUPE}"
        with self.engine.connect() as connection:
            return connection.execute(select(exists().where(webhook_events.c.dedupe_key == key))).scalar_one()

    def record(self, failure: Failure, at: datetime | None = None) -> None:
        """Write onRegistrationFailed, once per registration and reason; `expired` (a lapse) only if
        nothing was said of the registration before."""
        data = {
            "registration_id": failure.verification_id,
            "reason": failure.reason.value,
            "verified_by": failure.channel,
            "destination": failure.masked,
            "country_code": failure.country,
        }
        row = _row(REGISTRATION_FAILED, failure.verification_id, failure.reason, data, at or utcnow())
        values = select(*(literal(value, webhook_events.c[name].type) for name, value in row.items()))
        if failure.reason == FailureReason.EXPIRED:
            values = values.where(
                ~exists().where(webhook_events.c.registration_id == failure.verification_id)
            )
        with contextlib.suppress(IntegrityError), self.engine.begin() as connection:  # written before
            connection.execute(insert(webhook_events).from_select(list(row), values))

    def prune(self, created_before: datetime, batch: int = 100) -> None:
        """Delete the events created before `created_before` that were fanned out and have no
        delivery pending, with their deliveries, `batch` at a time: their payloads hold customers'
        data (WEBHOOK_EVENT_RETENTION)."""
        event, delivery = webhook_events.c, webhook_deliveries.c
        settled = ~exists().where(delivery.event_id == event.id, delivery.status == PENDING)
        old = select(event.id).where(event.fanned_out.is_(True), event.created_at < created_before, settled)
        while True:
            with self.engine.begin() as connection:
                ids = connection.execute(old.limit(batch)).scalars().all()
                connection.execute(delete(webhook_deliveries).where(delivery.event_id.in_(ids)))
                connection.execute(delete(webhook_events).where(event.id.in_(ids)))
            if len(ids) < batch:
                return


def new_delivery(event_id: str, endpoint_id: str, now: datetime) -> dict:
    """A delivery of an event to an endpoint, due at once (its other columns start empty)."""
    return {
        "id": new_identifier("dlv"),
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def after_attempt(
    attempts_before: int, status_code: int | None, schedule: Sequence[int], now: datetime, jitter: float
) -> dict:
    """The delivery's new state once an attempt got `status_code` (None: no answer). 2xx
    succeeds; 410 Gone fails for good; anything else is retried `schedule[n]` seconds times
    `jitter` after the n-th failed attempt, until the schedule is spent, then fails."""
    attempts = attempts_before + 1
    state = {"attempts": attempts, "last_status_code": status_code, "lease_until": None, "lease_token": None}
    if status_code is not None and 200 <= status_code < 300:
        return {**state, "status": SUCCEEDED, "next_attempt_at": None}
    if status_code == 410 or attempts > len(schedule):
        return {**state, "status": FAILED, "next_attempt_at": None}
    wait = timedelta(seconds=schedule[attempts - 1] * jitter)
    return {**state, "status": PENDING, "next_attempt_at": now + wait}
