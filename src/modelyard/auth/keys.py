"""Access keys in the metadata store: create, list, delete, and the server's read-through cache.

    AccessKey(access_key_id="AKIA…" (20), name, account (12 digits), allow=("sagemaker:Describe*", …) | None)

Secrets are 40 characters of AWS's alphabet, sealed by ``secrets.SecretBox`` before they reach the
database. The CLI writes here directly (same machine, same data dir and database as the server); the
server's ``KeyRing`` re-reads the table at most every ``refresh_seconds``, so a key made or deleted by
the CLI takes effect within that time without a restart.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from typing import Any

from modelyard.auth.secrets import SecretBox, SecretUnreadable
from modelyard.store.access_keys import access_key_rows, delete_access_key, insert_access_key
from modelyard.store.database import Database

ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
KEY_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class AccessKey:
    """One access key, without its secret."""

    access_key_id: str
    name: str
    account: str
    allow: tuple[str, ...] | None
    created_at: float

    @property
    def user_arn(self) -> str:
        """The IAM-style ARN naming the key's holder in error messages."""
        return f"arn:aws:iam::{self.account}:user/{self.name}"

    def listing(self) -> dict[str, object]:
        """What ``modelyard keys list`` shows."""
        return {"AccessKeyId": self.access_key_id, "Name": self.name, "Account": self.account,
                "Allow": list(self.allow) if self.allow is not None else ["*"], "CreatedAt": self.created_at}


@dataclass(frozen=True)
class Credentials:
    """A key with its secret, as ``keys create`` prints it once."""

    key: AccessKey
    secret: str

    def document(self) -> dict[str, object]:
        """``{"AccessKeyId", "SecretAccessKey", "Account", "Name", "Allow"}``."""
        return {"AccessKeyId": self.key.access_key_id, "SecretAccessKey": self.secret, "Account": self.key.account,
                "Name": self.key.name, "Allow": list(self.key.allow) if self.key.allow is not None else ["*"]}


def new_access_key_id() -> str:
    """``AKIA`` and 16 characters of AWS's base-32 alphabet: 20 characters."""
    return "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret() -> str:
    """40 random characters, as AWS secret access keys are."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


class KeyStore:
    """The ``access_keys`` table, with secrets sealed by ``box``."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    def create(self, name: str, account: str, allow: tuple[str, ...] | None = None) -> Credentials:
        """A new key for ``account``; ``allow`` limits it to matching actions."""
        if not KEY_NAME.match(name):
            raise ValueError(f"key name {name!r} must be 1-64 letters, digits or +=,.@_-")
        if not ACCOUNT_ID.match(account):
            raise ValueError(f"account {account!r} must be 12 digits")
        key = AccessKey(new_access_key_id(), name, account, allow, time.time())
        secret = new_secret()
        with self.db.session(write=True) as conn:
            insert_access_key(conn, access_key_id=key.access_key_id, name=name, account=account,
                              created_at=key.created_at, sealed_secret=self.box.seal(key.access_key_id, secret),
                              allow=json.dumps(list(allow)) if allow is not None else None)
        return Credentials(key, secret)

    def list(self) -> list[AccessKey]:
        """Every key, oldest first, without secrets."""
        with self.db.session() as conn:
            rows = access_key_rows(conn)
        return [_key(row) for row in rows]

    def delete(self, access_key_id: str) -> bool:
        """Remove a key; False when there was none."""
        with self.db.session(write=True) as conn:
            return delete_access_key(conn, access_key_id)

    def load(self) -> dict[str, tuple[AccessKey, str]]:
        """Every key with its secret, by access key id; keys this data dir cannot decrypt are left out."""
        with self.db.session() as conn:
            rows = access_key_rows(conn)
        loaded = {}
        for row in rows:
            try:
                loaded[row.access_key_id] = (_key(row), self.box.open(row.access_key_id, row.secret))
            except SecretUnreadable:
                continue
        return loaded


def _key(row: Any) -> AccessKey:
    allow = row.allow
    return AccessKey(row.access_key_id, row.name, row.account,
                     tuple(json.loads(allow)) if allow is not None else None, row.created_at)


class KeyRing:
    """The server's view of the keys: a snapshot re-read when older than ``refresh_seconds`` (so a
    deleted key stops working within that time), and on an unknown key at most every
    ``miss_seconds`` (so a new key works at once, and a flood of unknown keys costs at most one read
    per ``miss_seconds``)."""

    def __init__(self, store: KeyStore, refresh_seconds: float = 2.0, miss_seconds: float = 0.1) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.miss_seconds = miss_seconds
        self._keys: dict[str, tuple[AccessKey, str]] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def lookup(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        """The key and its secret, or None for an unknown (or deleted) key."""
        age = time.monotonic() - self._loaded_at
        if age > self.refresh_seconds:
            self.refresh()
        found = self._keys.get(access_key_id)
        if found is None and self.miss_seconds < age <= self.refresh_seconds:
            self.refresh()
            found = self._keys.get(access_key_id)
        return found

    def refresh(self) -> None:
        """Re-read the table now."""
        with self._lock:
            self._keys = self.store.load()
            self._loaded_at = time.monotonic()
