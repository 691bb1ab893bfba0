"""What a server has stored, to check that refused requests changed nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy

from tests.support.server import ServerProcess

_QUERIES = {
    "resources": "SELECT account, region, kind, name, status, document, desired FROM resources ORDER BY id",
    "tags": "SELECT resource_id, key, value FROM tags ORDER BY resource_id, key",
    "client_tokens": "SELECT account, region, operation, token, arn FROM client_tokens ORDER BY token",
}


def store_snapshot(server: ServerProcess) -> dict[str, Any]:
    """Every row of the metadata store's tables and every file name under the log store."""
    url = server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = {table: [tuple(row) for row in conn.exec_driver_sql(query)] for table, query in _QUERIES.items()}
    finally:
        engine.dispose()
    logs = Path(server.data_dir) / "logs"
    rows["logs"] = sorted(str(path.relative_to(logs)) for path in logs.rglob("*")) if logs.exists() else []
    return rows
