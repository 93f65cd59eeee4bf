"""The outbox: events written to SQL with the change that caused them, for the worker to deliver.

Each event's body is fixed when it is written, so that every attempt and every endpoint
gets the same bytes under the same `webhook-id` (the event id). A registration has at
most one event per outcome: `dedupe_key` is unique.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, exists, insert, literal, select
from sqlalchemy.exc import IntegrityError

from app.codes import Facts
from app.codes.hashing import new_identifier
from app.models import utcnow, webhook_events

REGISTERED, REGISTRATION_FAILED = "onRegistered", "onRegistrationFailed"
EVENT_TYPES = (REGISTERED, REGISTRATION_FAILED)
_REGISTERED_DEDUPE = "registered"  # the dedupe reason of onRegistered: one per registration
REASONS = ("too_many_attempts", "too_many_resends", "expired", "code_delivery_failed", "already_registered")
_INSERT = insert(webhook_events)


@dataclass(frozen=True)
class Failure:
    """What an onRegistrationFailed event says of the registration."""

    registration_id: str
    reason: str
    verified_by: str
    destination: str  # masked
    country_code: str | None


def _body(event_type: str, at: datetime, data: dict) -> str:
    timestamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": timestamp, "data": data}, ensure_ascii=False)


def _failure_data(failure: Failure) -> dict:
    return {
        "registration_id": failure.registration_id,
        "reason": failure.reason,
        "verified_by": failure.verified_by,
        "destination": failure.destination,
        "country_code": failure.country_code,
    }


def _dedupe_key(registration_id: str, dedupe: str) -> str:
    return f"{registration_id}:{dedupe}"


def _row(event_type: str, registration_id: str, dedupe: str, data: dict, at: datetime) -> dict:
    return {
        "id": new_identifier("evt"),
        "type": event_type,
        "registration_id": registration_id,
        "dedupe_key": _dedupe_key(registration_id, dedupe),
        "payload": _body(event_type, at, data),
        "created_at": at,
        "fanned_out": False,
    }


class Outbox:
    """Writes events; `app.webhooks.worker` fans them out to endpoints and delivers them."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @staticmethod
    def registered(registration_id: str, customer: dict, at: datetime) -> dict:
        """The `webhook_events` row of onRegistered, for the transaction that creates the
        account to insert (`app.registration.accounts`)."""
        data = {"registration_id": registration_id, "customer": customer}
        return _row(REGISTERED, registration_id, _REGISTERED_DEDUPE, data, at)

    def has_registered(self, registration_id: str) -> bool:
        """Whether the registration's onRegistered is written, and so its account exists."""
        key = _dedupe_key(registration_id, _REGISTERED_DEDUPE)
        with self.engine.connect() as connection:
            return connection.execute(select(exists().where(webhook_events.c.dedupe_key == key))).scalar_one()

    def failed(self, failure: Failure, at: datetime) -> bool:
        """onRegistrationFailed, once per registration and reason, in its own transaction.
        Whether it was written (False: it had been already)."""
        try:
            with self.engine.begin() as connection:
                row = _row(
                    REGISTRATION_FAILED, failure.registration_id, failure.reason, _failure_data(failure), at
                )
                connection.execute(_INSERT, row)
        except IntegrityError:
            return False
        return True

    def record(self, registration_id: str, reason: str, facts: Facts) -> None:
        """The failure hook of registration's CodeChallenges."""
        self.failed(Failure(registration_id, reason, facts.channel, facts.masked, facts.country), at=utcnow())

    def at_lapse(self, failure: Failure, at: datetime) -> bool:
        """What a lapsed registration's notice says. `expired` is written only if nothing
        was said of the registration before (no account, no earlier failure); any other
        reason is a failure whose event may have been lost when it happened, written now
        unless it was not. Whether an event was written."""
        if failure.reason != "expired":
            return self.failed(failure, at)
        row = _row(REGISTRATION_FAILED, failure.registration_id, "expired", _failure_data(failure), at)
        columns = list(row)
        values = select(*(literal(row[name], webhook_events.c[name].type) for name in columns)).where(
            ~exists().where(webhook_events.c.registration_id == failure.registration_id)
        )
        try:
            with self.engine.begin() as connection:
                return connection.execute(insert(webhook_events).from_select(columns, values)).rowcount == 1
        except IntegrityError:
            return False
