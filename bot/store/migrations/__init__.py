"""Alembic migrations of the state database, applied by `Database.open` (no alembic.ini needed)."""
