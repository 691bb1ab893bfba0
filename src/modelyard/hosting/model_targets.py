"""TargetModel of a multi-model endpoint: checked before it names a file under the model prefix.

A TargetModel is a key relative to the model's ``ModelDataUrl`` prefix (``a/b/m1.tar.gz``). It may
not leave the prefix: no absolute key, no ``.``/``..`` or empty segment, no backslash or control
character — also after percent-decoding, because a ``file://`` prefix is decoded when it is read.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import unquote

from modelyard.wire.errors import RuntimeValidationError

MAX_TARGET_LENGTH = 1024
_DECODE_ROUNDS = 4
ACCEPTED_KEPT = 4096
"""TargetModel values remembered as accepted (then the memory starts over): a hit is not walked again."""

_accepted: set[str] = set()


class ModelHolder(Protocol):
    """An instance of a multi-model variant: it knows which models it holds in memory."""

    def holds(self, target: str) -> bool:
        """Whether the model ``target`` is loaded on this instance."""


def _decodings(target: str) -> list[str]:
    forms = [target]
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def checked_target(target: str | None, endpoint: str) -> str:
    """``target`` if it can name a model under the prefix; ``ValidationError`` saying what to fix."""
    if target in _accepted:
        return target
    if not target:
        raise RuntimeValidationError(
            f"Endpoint {endpoint} is a multi-model endpoint: give TargetModel, the path of a model artifact "
            "relative to the model's ModelDataUrl prefix (for example TargetModel='model1.tar.gz')")
    if len(target) > MAX_TARGET_LENGTH:
        raise RuntimeValidationError(f"TargetModel is {len(target)} characters long; at most "
                                     f"{MAX_TARGET_LENGTH} are allowed")
    for form in _decodings(target):
        if any(ord(c) < 32 or c in "\\\x7f" for c in form):
            raise RuntimeValidationError(
                f"TargetModel {target!r} contains a control character or a backslash; give a key relative to "
                "the model's ModelDataUrl prefix, with '/' between folders")
        if form.startswith("/"):
            raise RuntimeValidationError(
                f"TargetModel {target!r} is absolute; give a key relative to the model's ModelDataUrl prefix "
                "(for example 'a/b/model.tar.gz')")
        if any(part in ("", ".", "..") for part in form.split("/")):
            raise RuntimeValidationError(
                f"TargetModel {target!r} has an empty, '.' or '..' path segment; it must name an artifact "
                "under the model's ModelDataUrl prefix without leaving it")
    if len(_accepted) >= ACCEPTED_KEPT:
        _accepted.clear()
    _accepted.add(target)
    return target
