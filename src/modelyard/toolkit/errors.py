"""Errors of the handler contract, and how any exception maps to a status and a message.

Users raise ``GenericInferenceToolkitError(415, "...")`` (as with ``sagemaker_inference.errors``)
or any exception with an integer ``status_code`` attribute to choose the HTTP status; everything
else is a 500. Messages never contain tracebacks (those go to stderr).
"""

from __future__ import annotations

import textwrap


class BaseInferenceToolkitError(Exception):
    """An inference failure carrying the HTTP status, message and reason phrase to answer with."""

    def __init__(self, status_code: int, message: str, phrase: str) -> None:
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    """The error a handler raises to answer with ``status_code`` and ``message``."""

    def __init__(self, status_code: int, message: str | None = None, phrase: str | None = None) -> None:
        message = message or "Invalid Request"
        super().__init__(status_code, message, phrase or message)


class UnsupportedFormatError(Exception):
    """A default codec was asked for a content type it does not handle."""

    def __init__(self, content_type: str | None) -> None:
        super().__init__(textwrap.dedent(f"""\
            Content type {content_type} is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README."""))


class HandlerContractError(Exception):
    """The user's inference module breaks the handler contract (detected at load time)."""


def error_status(exc: BaseException) -> int:
    """The HTTP status for ``exc``: its integer ``status_code`` when that is 400-599, else 500."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599:
        return status
    return 500


def error_message(exc: BaseException) -> str:
    """The client-facing message for ``exc`` (its ``message`` attribute or ``str``), never empty."""
    message = getattr(exc, "message", None)
    if not isinstance(message, str) or not message:
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - a broken __str__ must not break the error path
            message = ""
    return message or type(exc).__name__
