"""Alembic environment: migrations run on the connection app.db.upgrade hands in."""

from alembic import context

from app.models import Model

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Model.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
