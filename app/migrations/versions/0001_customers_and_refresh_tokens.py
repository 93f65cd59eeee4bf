"""Customers and refresh tokens."""

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime, unique_where

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("first_name", sa.String(64), nullable=False),
        sa.Column("last_name", sa.String(64)),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(16)),
        sa.Column("country_code", sa.String(2)),
        sa.Column("verified_by", sa.String(5), nullable=False),
        sa.Column("phone_verified", sa.Boolean(), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(2), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        unique_where("uq_customers_verified_phone", "phone", sa.text("phone_verified")),
        unique_where("uq_customers_verified_email", sa.text("lower(email)"), sa.text("email_verified")),
    )
    customer = sa.ForeignKey("customers.id", name="fk_refresh_tokens_customer", ondelete="CASCADE")
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(32), nullable=False, index=True),
        sa.Column("customer_id", sa.String(32), customer, nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("rotated_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("refresh_tokens")
    op.drop_table("customers")
