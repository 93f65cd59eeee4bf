"""The accounts Registrar keeps in SQL. Alembic migrations in app/migrations create them."""

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
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


class Model(DeclarativeBase):
    pass


class Customer(Model):
    """A registered customer. A verified phone, or a verified email, belongs to one customer only."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(64))
    last_name: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(16))
    country_code: Mapped[str | None] = mapped_column(String(2))
    verified_by: Mapped[str] = mapped_column(String(5))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Only a verified phone or email is someone's: an unverified one is contact data,
        # and must not stop its real owner from registering it.
        Index(
            "uq_customers_verified_phone",
            phone,
            unique=True,
            postgresql_where=phone_verified,
            sqlite_where=phone_verified,
        ),
        # Mail providers treat local parts case-insensitively; so do we for uniqueness.
        Index(
            "uq_customers_verified_email",
            func.lower(email),
            unique=True,
            postgresql_where=email_verified,
            sqlite_where=email_verified,
        ),
    )


class RefreshToken(Model):
    """One refresh token, stored as its SHA-256. Rotation keeps a family together, so
    that a replayed token can revoke every token descended from the same sign-in."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", name="fk_refresh_tokens_customer", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),)


customers = Customer.__table__
refresh_tokens = RefreshToken.__table__


class WebhookEndpoint(Model):
    """A subscriber: where events of the chosen types are POSTed, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(String(255))  # comma-separated event types
    description: Mapped[str | None] = mapped_column(String(255))
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set when it answered 410


class WebhookEvent(Model):
    """The outbox: one row per event, written with the change that caused it.

    `dedupe_key` makes an event of a registration and reason happen at most once."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the webhook-id of every delivery
    type: Mapped[str] = mapped_column(String(32))
    registration_id: Mapped[str] = mapped_column(String(32), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # the exact body every delivery sends
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_webhook_events_dedupe_key"),
        Index("ix_webhook_events_fanned_out", "fanned_out", "created_at"),
    )


class WebhookDelivery(Model):
    """One event on its way to one endpoint: its attempts, its schedule and its lease."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", name="fk_webhook_deliveries_event", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", name="fk_webhook_deliveries_endpoint", ondelete="CASCADE"),
        index=True,
    )
    status: Mapped[str] = mapped_column(String(16))  # pending, succeeded, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))  # whose lease it is
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)


webhook_endpoints = WebhookEndpoint.__table__
webhook_events = WebhookEvent.__table__
webhook_deliveries = WebhookDelivery.__table__
