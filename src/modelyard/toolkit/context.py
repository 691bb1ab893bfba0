"""The ``context`` handed to hooks that accept one, shaped like MMS/TorchServe's ``Context``.

Handlers written for SageMaker framework containers read request headers with
``context.request_processor[0].get_request_properties()`` or
``context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")`` and answer custom
attributes with ``context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", v)``;
all of that works here, with case-insensitive header names.
"""

from __future__ import annotations

from typing import Any, overload

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
TARGET_MODEL = "X-Amzn-SageMaker-Target-Model"
CONTENT_TYPE = "Content-Type"
ACCEPT = "Accept"


class Headers(dict[str, str]):
    """A dict of header name -> value whose lookups ignore the case of the name."""

    def __init__(self, items: dict[str, str] | None = None) -> None:
        super().__init__()
        self._lower: dict[str, str] = {}
        for key, value in (items or {}).items():
            self[key] = value

    def copy(self) -> Headers:
        """A copy that changes independently of this one."""
        twin = Headers.__new__(Headers)
        dict.update(twin, self)
        twin._lower = self._lower.copy()
        return twin

    def __setitem__(self, key: str, value: str) -> None:
        previous = self._lower.get(key.lower())
        if previous is not None and previous != key:
            super().__delitem__(previous)
        self._lower[key.lower()] = key
        super().__setitem__(key, value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(self._lower.get(key.lower(), key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lower

    @overload  # type: ignore[override]
    def get(self, key: str, default: None = None) -> str | None: ...

    @overload
    def get(self, key: str, default: str) -> str: ...

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of header ``key`` in any case, or ``default``."""
        original = self._lower.get(key.lower())
        return default if original is None else super().__getitem__(original)


class RequestProcessor:
    """Request headers in, response status and headers out, for one request."""

    __slots__ = ("_request_header", "_response", "_status_code", "_reason_phrase")

    def __init__(self, request_header: Headers) -> None:
        self._request_header = request_header
        self._response: Headers | None = None
        self._status_code = 200
        self._reason_phrase: str | None = None

    @property
    def _response_header(self) -> Headers:
        if self._response is None:
            self._response = Headers()
        return self._response

    def get_request_property(self, key: str) -> str | None:
        """One request header."""
        return self._request_header.get(key)

    def get_request_properties(self) -> Headers:
        """All request headers."""
        return self._request_header

    def add_response_property(self, key: str, value: str) -> None:
        """Set a response header."""
        self._response_header[key] = value

    def get_response_headers(self) -> Headers:
        """All response headers set so far."""
        return self._response_header

    def get_response_header(self, key: str) -> str | None:
        """One response header."""
        return None if self._response is None else self._response.get(key)

    def report_status(self, code: int, reason_phrase: str | None = None) -> None:
        """Choose the response status."""
        self._status_code = code
        self._reason_phrase = reason_phrase

    def get_response_status_code(self) -> int:
        """The response status chosen so far (200 by default)."""
        return self._status_code

    def get_response_status_phrase(self) -> str | None:
        """The reason phrase chosen with the status."""
        return self._reason_phrase


class Context:
    """Serving information for hooks: ``system_properties`` and the current request's headers."""

    def __init__(self, system_properties: dict[str, Any],
                 request_processor: list[RequestProcessor] | None = None,
                 request_id: str | None = None) -> None:
        self._system_properties = system_properties
        self.request_processor = request_processor or []
        self.request_ids = {0: request_id} if request_id is not None else None
        self.model_name = system_properties.get("model_name", "model")
        self.manifest: dict[str, Any] = {}
        self.metrics = None

    @property
    def system_properties(self) -> dict[str, Any]:
        """``model_dir``, ``gpu_id`` (None), ``batch_size`` (1), ``server_name``, ``server_version``."""
        return self._system_properties

    @property
    def custom_attributes(self) -> str | None:
        """The request's ``X-Amzn-SageMaker-Custom-Attributes`` (a convenience, not in MMS)."""
        return self.get_request_header(0, CUSTOM_ATTRIBUTES) if self.request_processor else None

    def get_request_id(self, idx: int = 0) -> str | None:
        """The request's inference id, when the caller gave one."""
        return None if self.request_ids is None else self.request_ids.get(idx)

    def get_request_header(self, idx: int, key: str) -> str | None:
        """Header ``key`` of request ``idx``."""
        return self.request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx: int) -> Headers:
        """All headers of request ``idx``."""
        return self.request_processor[idx].get_request_properties()

    def set_response_content_type(self, idx: int, value: str) -> None:
        """Set the response content type of request ``idx``."""
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx: int) -> str | None:
        """The response content type set for request ``idx``."""
        return self.get_response_headers(idx).get("content-type")

    def get_response_headers(self, idx: int) -> Headers:
        """Response headers of request ``idx``."""
        return self.request_processor[idx].get_response_headers()

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        """Set a response header of request ``idx``."""
        self.request_processor[idx].add_response_property(key, value)

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        """Choose the response status of request ``idx``."""
        if self.request_processor:
            self.request_processor[idx].report_status(code, phrase)

    def get_response_status(self, idx: int) -> tuple[int, str | None]:
        """Status code and phrase chosen for request ``idx``."""
        processor = self.request_processor[idx]
        return processor.get_response_status_code(), processor.get_response_status_phrase()


def system_properties(model_dir: str, server_version: str = "modelyard") -> dict[str, Any]:
    """The properties every context shares."""
    return {"model_dir": model_dir, "gpu_id": None, "batch_size": 1, "server_name": "MMS",
            "server_version": server_version, "model_name": "model"}
