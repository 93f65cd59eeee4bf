"""The tables Registrar keeps in SQL (SQLAlchemy Core). Alembic migrations in app/migrations create them."""

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes on every database (SQLite hands back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _belongs_to(column: str, parent: str, constraint: str) -> sa.Column:
    """A required, indexed reference to a row of `parent`, deleted with it."""
    reference = sa.ForeignKey(f"{parent}.id", name=constraint, ondelete="CASCADE")
    return sa.Column(column, reference, nullable=False, index=True)


def unique_where(name: str, expression, condition) -> sa.Index:
    """A unique index of the rows where `condition` holds, on PostgreSQL and SQLite alike."""
    return sa.Index(name, expression, unique=True, postgresql_where=condition, sqlite_where=condition)


metadata = sa.MetaData()

# A registered customer. Only a verified phone or email is someone's, and one customer's only: an unverified
# one is contact data, and must not stop its real owner from registering it. Mail providers treat local parts
# case-insensitively; so do we for uniqueness, by a key computed in Python (API.md §1: Unicode case folding).
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("first_name", sa.String(64), nullable=False),
    sa.Column("last_name", sa.String(64)),
    sa.Column("email", sa.String(254)),
    sa.Column("email_key", sa.String(320)),  # app.identity.email_key(email): whose email it is
    sa.Column("phone", sa.String(16)),
    sa.Column("country_code", sa.String(2)),
    sa.Column("verified_by", sa.String(5), nullable=False),
    sa.Column("phone_verified", sa.Boolean, nullable=False, default=False),
    sa.Column("email_verified", sa.Boolean, nullable=False, default=False),
    sa.Column("locale", sa.String(2), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)
unique_where("uq_customers_verified_phone", customers.c.phone, customers.c.phone_verified)
unique_where("uq_customers_verified_email_key", customers.c.email_key, customers.c.email_verified)

# One refresh token, stored as its SHA-256. Rotation keeps a family together, so that a
# replayed token can revoke every token descended from the same sign-in.
refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("family_id", sa.String(32), nullable=False, index=True),
    _belongs_to("customer_id", "customers", "fk_refresh_tokens_customer"),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("family_started_at", UTCDateTime, nullable=False),  # its sign-in: REFRESH_FAMILY_MAX_AGE
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("rotated_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
)

# A subscriber: where events of the chosen types (comma-separated) are POSTed, signed with
# its secret; `disabled_at` is set when it answered 410 Gone.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", sa.String(255), nullable=False),
    sa.Column("description", sa.String(255)),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("disabled_at", UTCDateTime),
)

# The outbox: one row per event, written with the change that caused it. `payload` is the
# exact body every delivery sends, `id` the webhook-id of each; `dedupe_key` makes an event
# of a registration and reason happen at most once.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("registration_id", sa.String(32), nullable=False, index=True),
    sa.Column("dedupe_key", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("fanned_out", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("dedupe_key", name="uq_webhook_events_dedupe_key"),
    sa.Index("ix_webhook_events_fanned_out", "fanned_out", "created_at"),
)

# One event on its way to one endpoint: its attempts, its schedule and its lease
# (`lease_token` says whose it is).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _belongs_to("event_id", "webhook_events", "fk_webhook_deliveries_event"),
    _belongs_to("endpoint_id", "webhook_endpoints", "fk_webhook_deliveries_endpoint"),
    sa.Column("status", sa.String(16), nullable=False),  # pending, succeeded, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("lease_token", sa.String(32)),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)
