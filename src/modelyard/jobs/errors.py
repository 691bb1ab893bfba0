"""Errors raised by the pure job functions; all are ``ValueError``s with messages a user can act on."""

from __future__ import annotations


class RecordFormatError(ValueError):
    """The payload is not valid framing for its SplitType (bad magic, truncated, bad CRC)."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class RecordTooLargeError(ValueError):
    """One record alone is larger than MaxPayloadInMB."""

    def __init__(self, *, index: int, size: int, limit: int) -> None:
        super().__init__(
            f"record {index} is {size} bytes, larger than the {limit}-byte payload limit "
            f"(MaxPayloadInMB={limit / 1048576:g}); raise MaxPayloadInMB or split the input "
            "into smaller records"
        )
        self.index = index
        self.size = size
        self.limit = limit
