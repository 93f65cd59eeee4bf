"""Webhook endpoints, the event outbox and deliveries."""

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime()),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("registration_id", sa.String(32), nullable=False, index=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("dedupe_key", name="uq_webhook_events_dedupe_key"),
        sa.Index("ix_webhook_events_fanned_out", "fanned_out", "created_at"),
    )
    event = sa.ForeignKey("webhook_events.id", name="fk_webhook_deliveries_event", ondelete="CASCADE")
    endpoint = sa.ForeignKey(
        "webhook_endpoints.id", name="fk_webhook_deliveries_endpoint", ondelete="CASCADE"
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(32), event, nullable=False, index=True),
        sa.Column("endpoint_id", sa.String(32), endpoint, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("lease_token", sa.String(32)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
