"""The admin key made on first start, so a fresh server is secure without any set-up.

    <data dir>/admin-key.json   {"AccessKeyId", "SecretAccessKey", "Account", "Name", "Allow"}, mode 0600

``modelyard env`` exports it; the test fixtures sign with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelyard.auth.keys import Credentials, KeyStore
from modelyard.auth.secrets import write_private

ADMIN_KEY_FILE = "admin-key.json"
ADMIN_NAME = "admin"


def read_admin_key(data_dir: Path) -> dict[str, Any] | None:
    """The admin key file's contents, or None when it is missing or unreadable."""
    try:
        document = json.loads((data_dir / ADMIN_KEY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(document, dict) and document.get("AccessKeyId") and document.get("SecretAccessKey"):
        return document
    return None


def ensure_admin_key(data_dir: Path, store: KeyStore, account: str) -> str:
    """The admin key's id: the one in the file when the store still has it, else a new one (file rewritten)."""
    existing = read_admin_key(data_dir)
    if existing is not None:
        stored = store.load().get(str(existing["AccessKeyId"]))
        if stored is not None and stored[1] == existing["SecretAccessKey"]:
            return str(existing["AccessKeyId"])
    created: Credentials = store.create(ADMIN_NAME, account)
    write_private(data_dir / ADMIN_KEY_FILE, (json.dumps(created.document(), indent=2) + "\n").encode())
    return created.key.access_key_id
