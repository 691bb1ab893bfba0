"""Rows of the ``async_invocations`` table: the durable queue behind InvokeEndpointAsync.

A row is inserted ``queued`` when a request is accepted, claimed ``running`` by the drainer (one
conditional update, so two claims of one row cannot both win), and deleted once its answer (output or
failure) is stored. At start-up every ``running`` row goes back to ``queued``: the server that claimed it
is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from modelyard.store.tables import async_invocations

QUEUED = "queued"
RUNNING = "running"


@dataclass(frozen=True)
class QueuedInvocation:
    """One stored request: where it belongs, when it came and expires, and its request document (JSON)."""

    id: str
    account: str
    region: str
    endpoint: str
    inference_id: str
    attempts: int
    received_at: float
    expires_at: float
    request: str
    body: bytes | None = None
    """An inline request body (None when the input is in S3)."""


def insert_async_invocation(conn: Connection, item: QueuedInvocation) -> None:
    """Queue one accepted request."""
    conn.execute(insert(async_invocations).values(
        id=item.id, account=item.account, region=item.region, endpoint=item.endpoint,
        inference_id=item.inference_id, state=QUEUED, attempts=item.attempts, received_at=item.received_at,
        expires_at=item.expires_at, request=item.request, body=item.body))


def endpoints_with_queued(conn: Connection) -> Sequence[tuple[str, str, str]]:
    """``(account, region, endpoint)`` of every endpoint with a queued request."""
    c = async_invocations.c
    rows = conn.execute(select(c.account, c.region, c.endpoint).where(c.state == QUEUED).distinct()).all()
    return [(r[0], r[1], r[2]) for r in rows]


def oldest_queued(conn: Connection, account: str, region: str, endpoint: str, limit: int) -> list[QueuedInvocation]:
    """Up to ``limit`` queued requests of one endpoint, oldest first."""
    c = async_invocations.c
    rows = conn.execute(
        select(c.id, c.account, c.region, c.endpoint, c.inference_id, c.attempts, c.received_at, c.expires_at,
               c.request, c.body)
        .where(c.state == QUEUED, c.account == account, c.region == region, c.endpoint == endpoint)
        .order_by(c.received_at, c.id).limit(limit)).all()
    return [QueuedInvocation(*row) for row in rows]


def queued_arrivals(conn: Connection) -> list[tuple[str, str, str, str, float]]:
    """``(id, account, region, endpoint, received_at)`` of every stored request (for the backlog figures)."""
    c = async_invocations.c
    rows = conn.execute(select(c.id, c.account, c.region, c.endpoint, c.received_at)).all()
    return [(r[0], r[1], r[2], r[3], float(r[4])) for r in rows]


def claim_async_invocation(conn: Connection, invocation_id: str) -> bool:
    """Mark a queued request running (and count the attempt); False when it is no longer queued."""
    c = async_invocations.c
    result = conn.execute(update(async_invocations).where(c.id == invocation_id, c.state == QUEUED)
                          .values(state=RUNNING, attempts=c.attempts + 1))
    return bool(result.rowcount)


def delete_async_invocation(conn: Connection, invocation_id: str) -> bool:
    """Remove a request whose answer is stored (or that expired); False when it was already gone."""
    return bool(conn.execute(delete(async_invocations).where(async_invocations.c.id == invocation_id)).rowcount)


def requeue_running(conn: Connection) -> int:
    """Put every running request back in the queue (start-up: their server died); how many."""
    c = async_invocations.c
    return int(conn.execute(update(async_invocations).where(c.state == RUNNING).values(state=QUEUED)).rowcount)


def release_async_invocation(conn: Connection, invocation_id: str) -> None:
    """Put a claimed request back in the queue (no instance could take it now)."""
    c = async_invocations.c
    conn.execute(update(async_invocations).where(c.id == invocation_id).values(state=QUEUED))


def expired_queued(conn: Connection, now: float, limit: int) -> list[tuple[str, str, str, str, str]]:
    """``(id, account, region, endpoint, inference_id)`` of up to ``limit`` queued requests whose TTL
    passed, whatever their endpoint's state."""
    c = async_invocations.c
    rows = conn.execute(select(c.id, c.account, c.region, c.endpoint, c.inference_id)
                        .where(c.state == QUEUED, c.expires_at <= now).limit(limit)).all()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def queued_ids(conn: Connection, account: str, region: str, endpoint: str) -> list[str]:
    """The ids of one endpoint's queued requests."""
    c = async_invocations.c
    return list(conn.execute(select(c.id).where(c.state == QUEUED, c.account == account, c.region == region,
                                                c.endpoint == endpoint)).scalars())
