"""Metadata store: SQLAlchemy tables, repository functions, Alembic migrations, one session helper."""
