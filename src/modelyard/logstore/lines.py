"""Byte-offset access to a stream file: complete lines forward and backward, time seeks.

Offsets are line starts. Only complete lines (ending in ``\\n``) exist for readers: a line still
being written is invisible until its newline lands.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from modelyard.logstore.events import timestamp_of

CHUNK = 64 * 1024

Line = tuple[int, int, bytes]
"""(start offset, offset of the next line, line bytes without the newline)."""


def complete_end(f: BinaryIO) -> int:
    """The offset just past the last complete line of the file."""
    end = f.seek(0, 2)
    pos = end
    while pos > 0:
        size = min(CHUNK, pos)
        f.seek(pos - size)
        block = f.read(size)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return pos - size + newline + 1
        pos -= size
    return 0


def is_line_start(f: BinaryIO, offset: int, end: int) -> bool:
    """Whether ``offset`` is the start of a line (or the end) of a file whose lines end at ``end``."""
    if offset < 0 or offset > end:
        return False
    if offset == 0:
        return True
    f.seek(offset - 1)
    return f.read(1) == b"\n"


def forward(f: BinaryIO, start: int, end: int) -> Iterator[Line]:
    """Lines from ``start`` up to ``end``, in file order."""
    f.seek(start)
    pos = start
    while pos < end:
        raw = f.readline()
        if not raw.endswith(b"\n"):
            return
        following = pos + len(raw)
        yield pos, following, raw[:-1]
        pos = following


def backward(f: BinaryIO, end: int) -> Iterator[Line]:
    """Lines ending at or before ``end`` (a line boundary), newest first."""
    if end <= 0:
        return
    pos = end
    carry = b""
    first = True
    while pos > 0:
        size = min(CHUNK, pos)
        pos -= size
        f.seek(pos)
        block = f.read(size) + carry
        if first:
            block = block[:-1]
            first = False
        parts = block.split(b"\n")
        newline_at = pos + len(block)
        for part in reversed(parts[1:]):
            start = newline_at - len(part)
            yield start, newline_at + 1, part
            newline_at = start - 1
        carry = parts[0]
    yield 0, len(carry) + 1, carry


def seek_time(f: BinaryIO, target: int, start: int, end: int) -> int:
    """The first line start in ``[start, end]`` whose timestamp is ``>= target``.

    Assumes timestamps do not decrease through the file (binary search over byte offsets).
    """
    low, high = start, end
    while high - low > CHUNK:
        middle = (low + high) // 2
        f.seek(middle - 1)
        f.readline()
        probe = f.tell()
        if probe >= high:
            break
        raw = f.readline()
        stamp = timestamp_of(raw)
        if stamp is not None and stamp < target:
            low = probe + len(raw)
        else:
            high = probe
    for line_start, _, raw in forward(f, low, high):
        stamp = timestamp_of(raw)
        if stamp is not None and stamp >= target:
            return line_start
    return high
