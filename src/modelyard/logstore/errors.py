"""What the log store raises; the Logs service maps these to CloudWatch's error codes."""

from __future__ import annotations


class LogStoreError(Exception):
    """Base class of the log store's errors."""


class GroupNotFound(LogStoreError):
    """The log group does not exist."""


class StreamNotFound(LogStoreError):
    """The log stream does not exist."""


class GroupExists(LogStoreError):
    """The log group exists already."""


class StreamExists(LogStoreError):
    """The log stream exists already."""


class InvalidToken(LogStoreError):
    """A paging token that this store did not issue for this stream or group."""


class UnsupportedPattern(LogStoreError):
    """A filter pattern that is malformed or uses syntax the store does not implement."""
