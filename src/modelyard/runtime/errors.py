"""Errors raised by the runtime layer (images, environments, processes)."""

from __future__ import annotations


class RuntimeLayerError(Exception):
    """Base class of every error the runtime layer raises."""


class UnknownImageError(RuntimeLayerError):
    """An image URI that is neither a known framework image nor a registered one."""

    def __init__(self, uri: str, message: str) -> None:
        super().__init__(message)
        self.uri = uri


class ImageRegistrationError(RuntimeLayerError):
    """A directory that cannot be registered as an image (the message says why)."""


class EnvironmentBuildError(RuntimeLayerError):
    """uv could not build an environment; ``requirement`` names the culprit when uv did."""

    def __init__(self, message: str, *, requirement: str | None = None, output: str = "") -> None:
        super().__init__(message)
        self.requirement = requirement
        self.output = output


class SandboxUnavailableError(RuntimeLayerError):
    """The sandbox was requested explicitly but bubblewrap does not work here."""


class ContainerStartError(RuntimeLayerError):
    """A container process could not be started."""
