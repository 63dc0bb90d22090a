"""Alembic's entry point: runs the migrations on the connection `Database.migrate` hands in."""

from alembic import context

connection = context.config.attributes["connection"]
# One transaction per migration: PostgreSQL rolls a failed one back whole; SQLite rebuilds
# a table in batch mode for the changes it cannot make in place.
context.configure(connection=connection, transaction_per_migration=True, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
