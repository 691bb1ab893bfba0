"""Assemble per-request outputs into the ``<input>.out`` object by ``AssembleWith``.

    None -> outputs concatenated as returned
    Line -> each output followed by a newline (unless it already ends with one)

Outputs stay in input order. A MultiRecord response is one output: it is not re-split.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class AssembleWith(str, Enum):
    """``TransformOutput.AssembleWith``."""

    NONE = "None"
    LINE = "Line"

    @classmethod
    def parse(cls, value: str | AssembleWith | None) -> AssembleWith:
        """The member for a wire value (missing means ``None``)."""
        if value is None:
            return cls.NONE
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown AssembleWith {value!r}; expected None or Line") from None


def assemble_chunk(output: bytes, assemble_with: str | AssembleWith | None) -> bytes:
    """The bytes one output contributes to the assembled object."""
    if AssembleWith.parse(assemble_with) is AssembleWith.LINE and not output.endswith(b"\n"):
        return output + b"\n"
    return output


def assemble(outputs: Iterable[bytes], assemble_with: str | AssembleWith | None) -> bytes:
    """The assembled object for ``outputs`` (in order)."""
    mode = AssembleWith.parse(assemble_with)
    return b"".join(assemble_chunk(output, mode) for output in outputs)
