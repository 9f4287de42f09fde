"""Alembic migrations of the wallet database (run with `python -m server migrate`)."""
