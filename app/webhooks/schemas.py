"""What the webhook admin API accepts and answers."""

from marshmallow import Schema, fields
from marshmallow.validate import Length, Predicate

from app.schemas import UtcDateTime
from app.webhooks.outbox import EVENT_TYPES


class WebhookCreateSchema(Schema):
    """A new endpoint: where to POST, and which events."""

    url = fields.String(required=True, metadata={"example": "https://crm.example.com/hooks/registrar"})
    events = fields.List(
        fields.String(),
        required=True,
        metadata={"example": list(EVENT_TYPES), "items": {"enum": list(EVENT_TYPES)}},
    )
    description = fields.String(
        allow_none=True,
        validate=[Length(max=255), Predicate("isprintable", error="Control characters are not allowed.")],
    )


class WebhookSchema(Schema):
    """An endpoint; `disabled_at` is set once it answered 410 Gone."""

    id = fields.String(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    description = fields.String(allow_none=True)
    created_at = UtcDateTime(required=True)
    disabled_at = UtcDateTime(allow_none=True)


class WebhookCreatedSchema(WebhookSchema):
    """A new endpoint with its signing secret, shown this once."""

    secret = fields.String(required=True)


class DeliverySchema(Schema):
    """One event on its way to one endpoint."""

    id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String()
    status = fields.String(required=True, metadata={"enum": ["pending", "succeeded", "failed"]})
    attempts = fields.Integer(required=True)
    last_status_code = fields.Integer(allow_none=True)
    next_attempt_at = UtcDateTime(allow_none=True)
