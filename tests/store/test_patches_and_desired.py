"""patch_record (guarded read-modify-write) and migration 0002 (private members -> desired), on SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from modelyard.store.database import Database, _normalize_url
from modelyard.store.migrations_runner import alembic_config
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import ANY, get_record, insert_record
from tests.support.server import create_pg_database, drop_pg_database

A, R = "000000000000", "us-east-1"


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        pg_url, name = create_pg_database()
        yield pg_url
        drop_pg_database(name)


def _job(db: Database, status: str = "InProgress") -> None:
    with db.session(write=True) as conn:
        insert_record(conn, account=A, region=R, kind="job", name="j", arn="arn:j", status=status,
                      document={"Status": status, "Keep": 1}, created_at=1.0, desired={"x": 1})


def test_patch_merges_members_and_columns(url: str) -> None:
    db = Database.connect(url)
    _job(db)
    with db.session(write=True) as conn:
        patched = patch_record(conn, A, R, "job", "j", Patch({"Status": "Stopping", "Keep": None, "New": 2}),
                               status_field="Status", now=5.0)
    with db.session() as conn:
        stored = get_record(conn, A, R, "job", "j")
    db.dispose()
    assert stored == patched
    assert stored is not None and stored.status == "Stopping" and stored.modified_at == 5.0
    assert stored.document == {"Status": "Stopping", "New": 2, "LastModifiedTime": 5.0}
    assert stored.desired == {"x": 1}


def test_patch_guard_and_callable(url: str) -> None:
    db = Database.connect(url)
    _job(db, "Completed")
    with db.session(write=True) as conn:
        refused = patch_record(conn, A, R, "job", "j", Patch({"Status": "Failed"}), status_field="Status",
                               expect={"InProgress", "Stopping"})
        unchanged = patch_record(conn, A, R, "job", "j", lambda record: None, status_field="Status")
        missing = patch_record(conn, A, R, "job", "nope", Patch({"Status": "Failed"}), status_field="Status")
        cleared = patch_record(conn, A, R, "job", "j", lambda record: Patch(desired=None), status_field="Status")
    db.dispose()
    assert refused is None and missing is None
    assert unchanged is not None and unchanged.status == "Completed"
    assert cleared is not None and cleared.desired is None and cleared.status == "Completed"
    assert Patch().desired is ANY


def test_migration_0002_moves_private_members_out_of_documents(url: str) -> None:
    engine = create_engine(_normalize_url(url))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        rows = [
            ("endpoint", {"EndpointName": "e", "_DesiredConfig": "c", "_DesiredWeights": {"v": {"DesiredWeight": 2}}}),
            ("transform-job", {"TransformJobName": "t", "_Containers": [{"Image": "i"}], "_NetworkIsolation": True}),
            ("model", {"ModelName": "m", "_ResolvedContainers": [{"Image": "i"}]}),
            ("model-package-group", {"ModelPackageGroupName": "g", "_LastVersion": 3}),
            ("training-job", {"TrainingJobName": "x"}),
        ]
        for index, (kind, document) in enumerate(rows):
            conn.execute(text("INSERT INTO resources (account, region, kind, name, arn, created_at, modified_at, "
                              "document) VALUES (:a, :r, :k, :n, :arn, 1, 1, :d)"),
                         {"a": A, "r": R, "k": kind, "n": f"n{index}", "arn": f"arn:{index}",
                          "d": json.dumps(document)})
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    with engine.connect() as conn:
        stored = {row.kind: (json.loads(row.document), row.desired and json.loads(row.desired))
                  for row in conn.execute(text("SELECT kind, document, desired FROM resources"))}
    assert stored == {
        "endpoint": ({"EndpointName": "e"}, {"config": "c", "weights": {"v": {"DesiredWeight": 2}}}),
        "transform-job": ({"TransformJobName": "t"}, {"containers": [{"Image": "i"}], "network_isolation": True}),
        "model": ({"ModelName": "m"}, {"resolved_containers": [{"Image": "i"}]}),
        "model-package-group": ({"ModelPackageGroupName": "g"}, {"last_version": 3}),
        "training-job": ({"TrainingJobName": "x"}, None),
    }
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    with engine.connect() as conn:
        documents = {row.kind: json.loads(row.document)
                     for row in conn.execute(text("SELECT kind, document FROM resources"))}
    engine.dispose()
    assert documents["endpoint"]["_DesiredConfig"] == "c" and documents["model-package-group"]["_LastVersion"] == 3
