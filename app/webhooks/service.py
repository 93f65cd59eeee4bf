"""Webhook endpoints and their deliveries, as the admin API and the CLI manage them."""

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from app import errors
from app.codes.hashing import new_identifier
from app.models import utcnow, webhook_deliveries, webhook_endpoints, webhook_events
from app.webhooks.guard import UnsafeUrl, check_url
from app.webhooks.outbox import EVENT_TYPES, new_delivery

DELIVERY_LOG_LIMIT = 100
delivery, endpoint = webhook_deliveries.c, webhook_endpoints.c


def _endpoint(row: Mapping) -> dict:
    """An endpoint as the API shows it: never its secret."""
    fields = ("id", "url", "description", "created_at", "disabled_at")
    return {**{name: row[name] for name in fields}, "events": row["events"].split(",")}


@dataclass(frozen=True)
class WebhookAdmin:
    """Creates, lists and removes endpoints; shows and repeats their deliveries."""

    engine: Engine
    allow_private_urls: bool

    def create(self, url: str, events: list[str], description: str | None = None) -> dict:
        """A new endpoint; the answer is the only time its secret is shown."""
        problems: dict[str, list[str]] = {}
        try:
            check_url(url, allow_private=self.allow_private_urls)
        except UnsafeUrl as problem:
            problems["url"] = [str(problem)]
        if not events or not set(events) <= set(EVENT_TYPES):
            problems["events"] = [f"Choose among {', '.join(EVENT_TYPES)}."]
        if problems:
            raise errors.ValidationFailed(errors=problems)
        row = {
            "id": new_identifier("wh"),
            "url": url,
            "events": ",".join(dict.fromkeys(events)),
            "description": description,
            # A Standard Webhooks secret: `whsec_` and 24 random bytes in base64.
            "secret": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            "created_at": utcnow(),
            "disabled_at": None,
        }
        with self.engine.begin() as connection:
            connection.execute(insert(webhook_endpoints), row)
        return {**_endpoint(row), "secret": row["secret"]}

    def endpoints(self) -> list[dict]:
        """Every endpoint, oldest first, without secrets."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(webhook_endpoints).order_by(endpoint.created_at))
            return [_endpoint(row._mapping) for row in rows]

    def get(self, endpoint_id: str) -> dict:
        """One endpoint, without its secret."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(webhook_endpoints).where(endpoint.id == endpoint_id)
            ).one_or_none()
        if row is None:
            raise errors.NotFound()
        return _endpoint(row._mapping)

    def remove(self, endpoint_id: str) -> None:
        """Delete an endpoint and its deliveries: nothing more is sent to it."""
        with self.engine.begin() as connection:
            connection.execute(delete(webhook_deliveries).where(delivery.endpoint_id == endpoint_id))
            removed = connection.execute(delete(webhook_endpoints).where(endpoint.id == endpoint_id))
        if removed.rowcount == 0:
            raise errors.NotFound()

    def deliveries(self, endpoint_id: str) -> list[dict]:
        """The newest deliveries to an endpoint, newest first."""
        self.get(endpoint_id)
        query = (
            select(
                *delivery["id", "event_id"],
                webhook_events.c.type.label("event_type"),
                *delivery["status", "attempts", "last_status_code", "next_attempt_at", "created_at"],
            )
            .join(webhook_events, webhook_events.c.id == delivery.event_id)
            .where(delivery.endpoint_id == endpoint_id)
            .order_by(delivery.created_at.desc(), delivery.id.desc())
            .limit(DELIVERY_LOG_LIMIT)
        )
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def redeliver(self, endpoint_id: str, delivery_id: str) -> dict:
        """Send a delivery's event again, as a new delivery with attempts of its own. An endpoint
        disabled by a 410 is enabled again: asking for a redelivery says it is back."""
        with self.engine.begin() as connection:
            event_id = connection.execute(
                select(delivery.event_id).where(
                    delivery.id == delivery_id, delivery.endpoint_id == endpoint_id
                )
            ).scalar_one_or_none()
            if event_id is None:
                raise errors.NotFound()
            row = new_delivery(event_id, endpoint_id, utcnow())
            connection.execute(insert(webhook_deliveries), row)
            connection.execute(
                update(webhook_endpoints).where(endpoint.id == endpoint_id).values(disabled_at=None)
            )
        return {key: row[key] for key in ("id", "event_id", "status", "attempts", "next_attempt_at")}
