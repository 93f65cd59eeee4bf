"""The tables Registrar keeps in SQL (SQLAlchemy Core). Alembic migrations in app/migrations create them."""

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData()

# A registered customer. A verified phone, or a verified email, belongs to one customer only.
customers = Table(
    "customers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("first_name", String(64), nullable=False),
    Column("last_name", String(64)),
    Column("email", String(254)),
    Column("phone", String(16)),
    Column("country_code", String(2)),
    Column("verified_by", String(5), nullable=False),
    Column("phone_verified", Boolean, nullable=False, default=False),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("locale", String(2), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)
# Only a verified phone or email is someone's: an unverified one is contact data, and must
# not stop its real owner from registering it.
Index(
    "uq_customers_verified_phone",
    customers.c.phone,
    unique=True,
    postgresql_where=customers.c.phone_verified,
    sqlite_where=customers.c.phone_verified,
)
# Mail providers treat local parts case-insensitively; so do we for uniqueness.
Index(
    "uq_customers_verified_email",
    func.lower(customers.c.email),
    unique=True,
    postgresql_where=customers.c.email_verified,
    sqlite_where=customers.c.email_verified,
)

# One refresh token, stored as its SHA-256. Rotation keeps a family together, so that a
# replayed token can revoke every token descended from the same sign-in.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False),
    Column("family_id", String(32), nullable=False, index=True),
    Column(
        "customer_id",
        ForeignKey("customers.id", name="fk_refresh_tokens_customer", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("rotated_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
)

# A subscriber: where events of the chosen types (comma-separated) are POSTed, signed with
# its secret; `disabled_at` is set when it answered 410 Gone.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("events", String(255), nullable=False),
    Column("description", String(255)),
    Column("secret", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("disabled_at", UTCDateTime),
)

# The outbox: one row per event, written with the change that caused it. `payload` is the
# exact body every delivery sends, `id` the webhook-id of each; `dedupe_key` makes an event
# of a registration and reason happen at most once.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("registration_id", String(32), nullable=False, index=True),
    Column("dedupe_key", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("fanned_out", Boolean, nullable=False, default=False),
    UniqueConstraint("dedupe_key", name="uq_webhook_events_dedupe_key"),
    Index("ix_webhook_events_fanned_out", "fanned_out", "created_at"),
)

# One event on its way to one endpoint: its attempts, its schedule and its lease
# (`lease_token` says whose it is).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "event_id",
        ForeignKey("webhook_events.id", name="fk_webhook_deliveries_event", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column(
        "endpoint_id",
        ForeignKey("webhook_endpoints.id", name="fk_webhook_deliveries_endpoint", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("status", String(16), nullable=False),  # pending, succeeded, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_status_code", Integer),
    Column("next_attempt_at", UTCDateTime),
    Column("lease_until", UTCDateTime),
    Column("lease_token", String(32)),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)
