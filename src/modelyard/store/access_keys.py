"""Rows of the ``access_keys`` table: insert, list, delete. Secrets arrive sealed; this module never sees
them in clear (``modelyard.auth.keys`` seals and opens them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from modelyard.store.tables import access_keys


def insert_access_key(conn: Connection, *, access_key_id: str, name: str, account: str, created_at: float,
                      sealed_secret: str, allow: str | None) -> None:
    """Store one key (its secret already sealed, its allow-list as JSON or None)."""
    conn.execute(insert(access_keys).values(access_key_id=access_key_id, name=name, account=account,
                                            created_at=created_at, secret=sealed_secret, allow=allow))


def access_key_rows(conn: Connection) -> Sequence[Any]:
    """Every key row, oldest first."""
    return conn.execute(select(access_keys).order_by(access_keys.c.created_at)).all()


def delete_access_key(conn: Connection, access_key_id: str) -> bool:
    """Remove a key; False when there was none."""
    return bool(conn.execute(delete(access_keys).where(access_keys.c.access_key_id == access_key_id)).rowcount)
