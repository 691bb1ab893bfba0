"""Storage errors: every failure names the URI (and the S3 error code when there is one)."""

from __future__ import annotations


class StorageError(Exception):
    """A storage operation failed; ``uri`` and ``code`` say where and (for S3) why."""

    def __init__(self, message: str, *, uri: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.uri = uri
        self.code = code


class ArtifactNotFoundError(StorageError):
    """The object, bucket, prefix or path does not exist."""


class InvalidLocationError(StorageError, ValueError):
    """A URI or path cannot be used as a storage location."""


class UnsafeArchiveError(StorageError):
    """A tar member would escape the target directory or is of a refused type."""

    def __init__(self, message: str, *, member: str, uri: str | None = None) -> None:
        super().__init__(message, uri=uri)
        self.member = member


class InvalidArchiveError(StorageError):
    """A file that should be a .tar or .tar.gz archive is not one (or is corrupt)."""


class ForbiddenLocationError(InvalidLocationError):
    """A local location that user data may not come from or go to (policy, protected area)."""


class SpecialFileError(StorageError):
    """A device, FIFO, socket or escaping link was found where only regular files may be copied."""


class CopyLimitError(StorageError):
    """A copy or extraction would exceed the configured size or file-count limit."""
