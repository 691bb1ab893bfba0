"""The data dir's server secret, and what it protects: stored access-key secrets and page tokens.

    <data dir>/server-secret     32 random bytes, mode 0600, made on first start
      HMAC(secret, "modelyard access-key encryption v1") -> AES-256-GCM key of stored key secrets
      HMAC(secret, "modelyard page tokens v1")           -> HMAC key of paging tokens

A copy of the database alone holds only ciphertexts (AES-GCM, a random 96-bit nonce per secret, the
access key id as associated data, so a ciphertext moved to another row does not decrypt).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_FILE = "server-secret"
SECRET_BYTES = 32
NONCE_BYTES = 12
ENCRYPTION_LABEL = "modelyard access-key encryption v1"
PAGE_TOKEN_LABEL = "modelyard page tokens v1"


class SecretUnreadable(Exception):
    """A stored secret that the server secret cannot decrypt (another data dir's, or tampered)."""


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable and writable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    temporary.replace(path)


def load_server_secret(data_dir: Path, *, create: bool = True) -> bytes:
    """The data dir's server secret, made (0600) when missing and ``create``; a group- or
    world-readable file is narrowed to 0600."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"{path} does not exist: start `modelyard server` with this data dir once")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            try:
                os.write(fd, os.urandom(SECRET_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    secret = path.read_bytes()
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"{path} is not a modelyard server secret ({len(secret)} bytes, expected {SECRET_BYTES})")
    return secret


def derive(secret: bytes, label: str) -> bytes:
    """An independent 32-byte key for one purpose."""
    return hmac.new(secret, label.encode(), hashlib.sha256).digest()


class SecretBox:
    """Encrypts access-key secrets for the metadata store."""

    def __init__(self, server_secret: bytes) -> None:
        self._aead = AESGCM(derive(server_secret, ENCRYPTION_LABEL))

    def seal(self, access_key_id: str, secret: str) -> str:
        """base64(nonce || ciphertext || tag) of ``secret``, bound to ``access_key_id``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), access_key_id.encode())
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, access_key_id: str, sealed: str) -> str:
        """The secret inside ``sealed``; ``SecretUnreadable`` when it was not sealed here for this key."""
        try:
            raw = base64.b64decode(sealed, validate=True)
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], access_key_id.encode()).decode()
        except (InvalidTag, ValueError, UnicodeError) as exc:
            raise SecretUnreadable(access_key_id) from exc
