"""Customers and refresh tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("first_name", sa.String(64), nullable=False),
        sa.Column("last_name", sa.String(64), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("country_code", sa.String(2), nullable=True),
        sa.Column("verified_by", sa.String(5), nullable=False),
        sa.Column("phone_verified", sa.Boolean(), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(2), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    verified_phone = sa.text("phone_verified")
    verified_email = sa.text("email_verified")
    op.create_index(
        "uq_customers_verified_phone",
        "customers",
        ["phone"],
        unique=True,
        postgresql_where=verified_phone,
        sqlite_where=verified_phone,
    )
    op.create_index(
        "uq_customers_verified_email",
        "customers",
        [sa.text("lower(email)")],
        unique=True,
        postgresql_where=verified_email,
        sqlite_where=verified_email,
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column(
            "customer_id",
            sa.String(32),
            sa.ForeignKey("customers.id", name="fk_refresh_tokens_customer", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_customer_id", "refresh_tokens", ["customer_id"])


def downgrade() -> None:
    op.drop_table("refresh_tokens")
    op.drop_table("customers")
