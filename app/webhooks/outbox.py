"""The outbox: events written to SQL with the change that caused them, for the worker to deliver.

An event's body is fixed when written: every attempt and endpoint gets the same bytes under the
same `webhook-id` (the event id). A registration has one event per outcome (`dedupe_key` is unique).
"""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, exists, insert, literal, select
from sqlalchemy.exc import IntegrityError

from app.codes import Failure, FailureReason, new_identifier
from app.models import utcnow, webhook_events

REGISTERED, REGISTRATION_FAILED = "onRegistered", "onRegistrationFailed"
EVENT_TYPES = (REGISTERED, REGISTRATION_FAILED)
_REGISTERED_DEDUPE = "registered"  # the dedupe reason of onRegistered: one per registration


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


def _failed_row(failure: Failure, at: datetime) -> dict:
    data = {
        "registration_id": failure.verification_id,
        "reason": failure.reason.value,
        "verified_by": failure.channel,
        "destination": failure.masked,
        "country_code": failure.country,
    }
    return _row(REGISTRATION_FAILED, failure.verification_id, failure.reason, data, at)


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

    def record(self, failure: Failure, at: datetime | None = None) -> bool:
        """Write onRegistrationFailed, once per registration and reason; whether it was written now."""
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(webhook_events), _failed_row(failure, at or utcnow()))
        except IntegrityError:
            return False
        return True

    def at_lapse(self, failure: Failure, at: datetime) -> bool:
        """Write what a lapsed registration's notice says: `expired` only if nothing was said of
        the registration before; any other failure unless its event was written when it happened."""
        if failure.reason != FailureReason.EXPIRED:
            return self.record(failure, at)
        row = _failed_row(failure, at)
        columns = list(row)
        values = select(*(literal(row[name], webhook_events.c[name].type) for name in columns)).where(
            ~exists().where(webhook_events.c.registration_id == failure.verification_id)
        )
        try:
            with self.engine.begin() as connection:
                return connection.execute(insert(webhook_events).from_select(columns, values)).rowcount == 1
        except IntegrityError:
            return False
