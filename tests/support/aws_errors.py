"""Assertion helpers for AWS errors raised by boto3 clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(call: Callable[..., Any], *args: Any, **kwargs: Any) -> ClientError:
    """The ClientError that ``call(*args, **kwargs)`` must raise."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value


def code(err: ClientError) -> str:
    """The AWS error code."""
    return err.response["Error"]["Code"]


def message(err: ClientError) -> str:
    """The AWS error message."""
    return err.response["Error"]["Message"]
