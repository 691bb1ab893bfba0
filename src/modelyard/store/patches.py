"""Read-modify-write of one resource in one write transaction, optionally guarded by its status.

    patch_record(conn, key..., Patch({"EndpointStatus": "InService"}), status_field="EndpointStatus",
                 now=now, expect={"Updating"})
        SELECT ... FOR UPDATE  (SQLite: the write transaction is exclusive already)
        status not in expect   -> nothing written, None
        document | members     -> one UPDATE of document, status, modified time and desired state

Controllers and services both write transitions through here, so a transition written by one is
never overwritten by the other from a stale read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from modelyard.store.resources import ANY, Record, get_record_for_update, update_record


@dataclass(frozen=True)
class Patch:
    """Changes to one resource: document members to set (None removes a member) and, unless ANY,
    its new desired state (None clears it)."""

    members: Mapping[str, Any] = field(default_factory=dict)
    desired: Any = ANY


Change = Patch | Callable[[Record], Patch | None]
"""A patch, or a function of the locked current record returning one (None: write nothing).
The function may raise to abort the transaction."""


def patch_record(
    conn: Connection, account: str, region: str, kind: str, name: str, change: Change, *,
    status_field: str, now: float | None = None, expect: Collection[str | None] | None = None,
) -> Record | None:
    """Apply ``change`` to the resource in this transaction and return it as stored afterwards.

    Returns None, writing nothing, when the resource does not exist or its status is not in
    ``expect``. ``LastModifiedTime`` and the modified-time column become ``now``; the status
    column follows the document's ``status_field``.
    """
    record = get_record_for_update(conn, account, region, kind, name)
    if record is None or (expect is not None and record.status not in expect):
        return None
    patch = change(record) if callable(change) else change
    if patch is None or (not patch.members and patch.desired is ANY):
        return record
    modified = time.time() if now is None else now
    document = merged(record.document, {**patch.members, "LastModifiedTime": modified})
    return update_record(conn, record, document=document, modified_at=modified,
                         status=document.get(status_field), desired=patch.desired)


def merged(document: Mapping[str, Any], members: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` with ``members`` set; a member set to None is removed."""
    return {key: value for key, value in {**document, **members}.items() if value is not None}
