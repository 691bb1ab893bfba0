"""Group and stream names as single path components, reversibly.

Letters, digits, ``_`` and ``-`` stay as they are, ``.`` too except as the first character; every
other byte of the UTF-8 name becomes ``%XX``. So ``/aws/sagemaker/Endpoints/my-ep`` is stored as
``%2Faws%2Fsagemaker%2FEndpoints%2Fmy-ep``: never hidden, never ``.``/``..``, never a separator.
A name whose encoding would exceed ``MAX_COMPONENT`` bytes (file systems allow 255) is stored
under ``%%`` + its SHA-256 instead, and its real name is read from the metadata file beside it.
"""

from __future__ import annotations

import hashlib
import string

MAX_COMPONENT = 200
HASHED_PREFIX = "%%"
_PLAIN = frozenset((string.ascii_letters + string.digits + "_-.").encode())


def encode_name(name: str) -> str:
    """The path component that stores ``name``."""
    if not name:
        raise ValueError("a log group or stream name must not be empty")
    raw = name.encode("utf-8", "surrogatepass")
    parts = []
    for index, byte in enumerate(raw):
        if byte in _PLAIN and not (index == 0 and byte == ord(".")):
            parts.append(chr(byte))
        else:
            parts.append(f"%{byte:02X}")
    encoded = "".join(parts)
    if len(encoded) > MAX_COMPONENT:
        return HASHED_PREFIX + hashlib.sha256(raw).hexdigest()
    return encoded


def is_hashed(component: str) -> bool:
    """Whether ``component`` is a hashed (not decodable) name."""
    return component.startswith(HASHED_PREFIX)


def decode_name(component: str) -> str:
    """The name stored under ``component`` (not for hashed components: read their metadata)."""
    if is_hashed(component):
        raise ValueError(f"{component!r} is a hashed name; its metadata holds the real name")
    out = bytearray()
    index = 0
    while index < len(component):
        char = component[index]
        if char == "%":
            out.append(int(component[index + 1 : index + 3], 16))
            index += 3
        else:
            out.extend(char.encode("ascii"))
            index += 1
    return out.decode("utf-8", "surrogatepass")
