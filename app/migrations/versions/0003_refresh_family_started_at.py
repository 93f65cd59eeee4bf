"""When each refresh token's family began (its sign-in), for REFRESH_FAMILY_MAX_AGE."""

import warnings

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("refresh_tokens", sa.Column("family_started_at", UTCDateTime(), nullable=True))
    # A family began with its oldest token still stored.
    op.execute(
        "UPDATE refresh_tokens SET family_started_at = (SELECT MIN(first.created_at) FROM refresh_tokens"
        " AS first WHERE first.family_id = refresh_tokens.family_id)"
    )
    with warnings.catch_warnings():
        # SQLite's batch mode reflects customers too, whose lower(email) index it cannot (0004 drops it).
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("refresh_tokens") as table:
            table.alter_column("family_started_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as table:
        table.drop_column("family_started_at")
