"""Customers' email uniqueness by a key computed in Python (Unicode case folding), the same on
every database: SQLite's lower() folds only ASCII, so `Émile@x` and `émile@x` were two identities."""

import logging

import sqlalchemy as sa
from alembic import op

from app.identity import email_key

revision = "0004"
down_revision = "0003"

log = logging.getLogger("alembic.runtime.migration")
customers = sa.table(
    "customers",
    sa.column("id", sa.String),
    sa.column("email", sa.String),
    sa.column("email_key", sa.String),
    sa.column("email_verified", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)


def upgrade() -> None:
    op.add_column("customers", sa.Column("email_key", sa.String(320)))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(customers.c.id, customers.c.email, customers.c.email_verified)
        .where(customers.c.email.is_not(None))
        .order_by(customers.c.created_at, customers.c.id)
    ).all()
    holders: set[str] = set()
    for row in rows:
        key = email_key(row.email)
        values = {"email_key": key}
        if row.email_verified and key in holders:
            # The same identity verified twice (the bug this fixes): the oldest account keeps
            # it; on the others it is contact data, as an unverified email is.
            values["email_verified"] = False
            log.warning("customer %s: email verified by an older account too; now unverified", row.id)
        elif row.email_verified:
            holders.add(key)
        connection.execute(sa.update(customers).where(customers.c.id == row.id).values(values))
    op.drop_index("uq_customers_verified_email", table_name="customers")
    _unique_among_verified_emails("uq_customers_verified_email_key", "email_key")


def downgrade() -> None:
    op.drop_index("uq_customers_verified_email_key", table_name="customers")
    _unique_among_verified_emails("uq_customers_verified_email", sa.text("lower(email)"))
    with op.batch_alter_table("customers") as table:
        table.drop_column("email_key")


def _unique_among_verified_emails(name: str, expression) -> None:
    verified = sa.text("email_verified")
    op.create_index(
        name, "customers", [expression], unique=True, postgresql_where=verified, sqlite_where=verified
    )
