"""Store contract tests, run against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from modelyard.store.database import Database
from modelyard.store.errors import DuplicateKey, SchemaMismatch
from modelyard.store.migrations_runner import current_revision, head_revision
from modelyard.store.resources import (
    ANY,
    InvalidToken,
    Query,
    delete_record,
    get_record,
    get_record_by_arn,
    insert_record,
    next_version,
    query_records,
    update_record,
)
from modelyard.store.tags import find_client_token, get_tags, put_tags, remember_client_token, remove_tags
from tests.support.databases import migrated_store


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_store(request.param, tmp_path) as database:
        yield database


def add(conn, name: str, created: float, **extra):  # type: ignore[no-untyped-def]
    return insert_record(conn, account="000000000000", region="us-east-1", kind="thing", name=name,
                         arn=f"arn:aws:sagemaker:us-east-1:000000000000:thing/{name}",
                         document={"Name": name, "Nested": {"a": [1, 2]}}, created_at=created, **extra)


def test_insert_get_update_delete(db: Database) -> None:
    with db.session(write=True) as conn:
        record = add(conn, "one", 1.0, status="Creating")
    with db.session() as conn:
        got = get_record(conn, "000000000000", "us-east-1", "thing", "one")
        assert got is not None and got.document == {"Name": "one", "Nested": {"a": [1, 2]}}
        assert get_record_by_arn(conn, record.arn) == got
        assert get_record(conn, "000000000000", "eu-west-1", "thing", "one") is None
    with db.session(write=True) as conn:
        updated = update_record(conn, got, document={"Name": "one", "x": 1}, modified_at=2.0, status="InService")
    with db.session() as conn:
        again = get_record(conn, "000000000000", "us-east-1", "thing", "one")
        assert again == updated and again.status == "InService" and again.modified_at == 2.0
    with db.session(write=True) as conn:
        delete_record(conn, again)
    with db.session() as conn:
        assert get_record(conn, "000000000000", "us-east-1", "thing", "one") is None


def test_duplicates_are_refused_by_the_database_and_roll_back(db: Database) -> None:
    with db.session(write=True) as conn:
        add(conn, "dup", 1.0)
    with pytest.raises(DuplicateKey), db.session(write=True) as conn:
        add(conn, "other", 1.0)
        add(conn, "dup", 2.0)
    with db.session() as conn:
        assert get_record(conn, "000000000000", "us-east-1", "thing", "other") is None


def test_versions_unique_per_parent(db: Database) -> None:
    with db.session(write=True) as conn:
        assert next_version(conn, "000000000000", "us-east-1", "thing", "g") == 1
        add(conn, "g/1", 1.0, parent="g", version=1)
        assert next_version(conn, "000000000000", "us-east-1", "thing", "g") == 2
    with pytest.raises(DuplicateKey), db.session(write=True) as conn:
        add(conn, "g/1b", 1.0, parent="g", version=1)


def test_keyset_paging_filters_and_sorting(db: Database) -> None:
    with db.session(write=True) as conn:
        for i in range(25):
            add(conn, f"item-{i:02d}", float(i % 5), status="A" if i % 2 else "B")
    base = dict(account="000000000000", region="us-east-1", kind="thing")
    seen, token = [], None
    with db.session() as conn:
        while True:
            records, token = query_records(conn, Query(**base, limit=4, token=token))
            seen += [(r.created_at, r.id) for r in records]
            if token is None:
                break
        assert seen == sorted(seen) and len(seen) == 25
        desc, _ = query_records(conn, Query(**base, sort="name", descending=True, limit=3))
        assert [r.name for r in desc] == ["item-24", "item-23", "item-22"]
        only_a, _ = query_records(conn, Query(**base, status="A", limit=100))
        assert len(only_a) == 12
        contains, _ = query_records(conn, Query(**base, name_contains="M-1", limit=100))
        assert len(contains) == 10
        ranged, _ = query_records(conn, Query(**base, created_after=1.0, created_before=4.0, limit=100))
        assert {r.created_at for r in ranged} == {2.0, 3.0}
        wild, _ = query_records(conn, Query(**base, name_contains="%", limit=100))
        assert wild == []
        none_parent, _ = query_records(conn, Query(**base, parent=None, limit=100))
        any_parent, _ = query_records(conn, Query(**base, parent=ANY, limit=100))
        assert len(none_parent) == len(any_parent) == 25
        with pytest.raises(InvalidToken):
            query_records(conn, Query(**base, token="garbage!"))


def test_tags_and_client_tokens(db: Database) -> None:
    with db.session(write=True) as conn:
        record = add(conn, "tagged", 1.0)
        put_tags(conn, record.id, {"b": "2", "a": "1"})
        put_tags(conn, record.id, {"a": "9"})
        remove_tags(conn, record.id, ["b", "zzz"])
        remember_client_token(conn, "000000000000", "us-east-1", "Op", "tok", record.arn)
    with db.session() as conn:
        assert get_tags(conn, record.id) == [{"Key": "a", "Value": "9"}]
        assert find_client_token(conn, "000000000000", "us-east-1", "Op", "tok") == record.arn
        assert find_client_token(conn, "000000000000", "us-east-1", "Op", "other") is None
    with db.session(write=True) as conn:
        delete_record(conn, record)
    with db.session() as conn:
        assert get_tags(conn, record.id) == []


def test_migrations_are_linear_and_applied(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    Database.connect(str(db.engine.url.render_as_string(hide_password=False)))


def test_a_database_from_a_newer_modelyard_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    database = Database.connect(url)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    database.dispose()
    with pytest.raises(SchemaMismatch, match="9999_future"):
        Database.connect(url)
