"""Run Alembic migrations from inside the package, and refuse a branched history.

The history must stay linear: more than one head is a packaging error, reported with the fix.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine

from modelyard.store.errors import SchemaMismatch

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The single head revision; raises SchemaMismatch when the history branches."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise SchemaMismatch(
            f"migration history has {len(heads)} heads ({', '.join(heads)}); "
            "merge them into one linear history (alembic merge) before starting"
        )
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the database to head; refuse a database from a newer modelyard."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    if current is not None and not _known(current):
        raise SchemaMismatch(
            f"the database is at revision {current}, which this modelyard does not know "
            f"(its newest is {head}); upgrade modelyard or point --database-url at another database"
        )
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
