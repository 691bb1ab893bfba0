"""The SageMaker handler contract: load the user's module once, resolve its hooks, invoke.

::

    <code_dir>/<program>  ──import──►  model_fn, input_fn, predict_fn, output_fn | transform_fn
                                         (missing ones -> defaults; transform_fn with any of the
                                          three others -> HandlerContractError)
    invoke(body, content_type, accept, headers[, stream])
        accept "*/*" or missing -> default accept;  json/csv bodies decoded to str
        transform_fn(model, data, content_type, accept[, context])
            or output_fn(predict_fn(input_fn(data, content_type), model), accept)
        -> Response(status, body bytes, content_type, custom_attributes)
        a generator or iterator result (from predict_fn with the default output_fn, output_fn or
        transform_fn): with a ``stream`` sink each part goes to it as it is produced; without one the
        parts are joined into one body
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
import types
from collections.abc import Iterator
from typing import Any, Protocol

from modelyard.toolkit import content_types, defaults
from modelyard.toolkit.context import (
    CUSTOM_ATTRIBUTES,
    INFERENCE_ID,
    Context,
    Headers,
    RequestProcessor,
    system_properties,
)
from modelyard.toolkit.environment import ToolkitSettings
from modelyard.toolkit.errors import HandlerContractError, error_message, error_status
from modelyard.toolkit.framework_defaults import framework_hook
from modelyard.toolkit.hooks import Hook

COMPAT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_compat")
ALGORITHM_MODES = {"xgboost": "modelyard.toolkit.xgboost_algorithm"}
DEFAULTS_ONLY = "modelyard_framework_defaults"
"""The module served when a framework with a default model_fn (PyTorch) is given no program: every hook is
the framework's default."""
"""Frameworks whose SageMaker image serves a model without an inference program (built-in algorithm mode),
and the toolkit module that does it as their container does."""


class Response:
    """What one invocation answers. ``streamed``: its parts already went to the request's stream sink,
    and ``status``/``body`` say how the stream ended (200, or the error raised mid-stream). ``results``:
    the answer to a batch, one ``[status, length, content_type, custom_attributes]`` per record, their
    bodies one after another in ``body``."""

    __slots__ = ("status", "body", "content_type", "custom_attributes", "streamed", "results")

    def __init__(self, status: int, body: bytes, content_type: str | None = None,
                 custom_attributes: str | None = None, streamed: bool = False,
                 results: list[list[Any]] | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.custom_attributes = custom_attributes
        self.streamed = streamed
        self.results = results


class BatchProgress:
    """Which record of a batch runs and since when (``time.monotonic``), written by the thread running them
    and read by a watchdog on another; ``done`` once the batch has ended."""

    __slots__ = ("index", "started", "done")

    def __init__(self) -> None:
        self.index = -1
        self.started: float | None = None
        self.done = False


class PartSink(Protocol):
    """Where a streaming invocation's parts go, from the thread running user code."""

    def start(self, status: int, content_type: str | None, custom_attributes: str | None) -> None:
        """The answer begins (before its first part)."""

    def part(self, data: bytes) -> None:
        """One part of the answer."""


_PLAIN = frozenset((bytes, str, bytearray, memoryview, list, dict, tuple, type(None)))


def is_stream(result: Any) -> bool:
    """Whether a hook's result is a generator or iterator of parts (not bytes, str, a list or a dict)."""
    kind = type(result)
    return kind not in _PLAIN and hasattr(kind, "__next__") and isinstance(result, Iterator) \
        and not isinstance(result, (bytes, str, bytearray, memoryview))

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:80]!r}, {self.content_type!r})"


def import_user_module(settings: ToolkitSettings) -> Any:
    """Import the program from the code directory (put first on ``sys.path`` for sibling imports); without
    one, an image with a built-in algorithm mode (``ALGORITHM_MODES``) gets that mode's module."""
    code_dir = os.path.abspath(settings.code_dir)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    if importlib.util.find_spec("sagemaker_inference") is None and COMPAT_DIR not in sys.path:
        sys.path.append(COMPAT_DIR)
    path = os.path.join(code_dir, settings.program)
    if not os.path.isfile(path) and importlib.util.find_spec(settings.module_name) is None:
        algorithm = ALGORITHM_MODES.get(settings.framework or "")
        if algorithm is not None and not settings.program_given:
            return importlib.import_module(algorithm)
        if framework_hook(settings.framework, "model_fn") is not None and not settings.program_given:
            return types.ModuleType(DEFAULTS_ONLY)
        raise HandlerContractError(
            f"inference program {settings.program} not found in {code_dir} (set SAGEMAKER_PROGRAM and "
            "SAGEMAKER_SUBMIT_DIRECTORY, or put code/inference.py in the model archive); it must define "
            "model_fn")
    return importlib.import_module(settings.module_name)


class Handler:
    """The user's hooks, resolved once, and the loaded model."""

    def __init__(self, module: Any, settings: ToolkitSettings) -> None:
        self.settings = settings
        self.properties = system_properties(settings.model_dir)
        self.model: Any = None
        self.loaded = False
        module_accept = getattr(module, "DEFAULT_ACCEPT", None) if module.__name__ in ALGORITHM_MODES.values() else None
        self.default_accept = settings.default_accept if settings.accept_given or not module_accept \
            else module_accept
        framework = settings.framework
        model_fn = getattr(module, "model_fn", None) or framework_hook(framework, "model_fn")
        transform_fn = getattr(module, "transform_fn", None)
        user_fns = {name: getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
        if model_fn is None:
            raise HandlerContractError(
                f"{settings.program} defines no model_fn. Please provide a model_fn(model_dir) "
                "implementation that loads and returns the model.")
        if transform_fn is not None and any(user_fns.values()):
            defined = ", ".join(name for name, fn in user_fns.items() if fn is not None)
            raise HandlerContractError(
                f"{settings.program} defines transform_fn together with {defined}: cannot use "
                "transform_fn implementation in conjunction with input_fn, predict_fn, and/or "
                "output_fn implementation")
        self.model_fn = Hook(model_fn, "model_fn", ("model_dir",))
        self.input_fn = _hook(user_fns["input_fn"], framework_hook(framework, "input_fn") or defaults.default_input_fn,
                              "input_fn", ("input_data", "content_type"))
        self.predict_fn = _hook(user_fns["predict_fn"],
                                framework_hook(framework, "predict_fn") or defaults.default_predict_fn,
                                "predict_fn", ("data", "model"))
        self.output_fn = _hook(user_fns["output_fn"],
                               framework_hook(framework, "output_fn") or defaults.default_output_fn,
                               "output_fn", ("prediction", "accept"))
        self.transform_fn = None if transform_fn is None else Hook(
            transform_fn, "transform_fn", ("model", "input_data", "content_type", "accept"))
        used = (self.transform_fn,) if self.transform_fn is not None else (self.input_fn, self.predict_fn,
                                                                           self.output_fn)
        self.with_context = any(hook.mode is not None for hook in used)
        """Whether a hook that runs per request takes the context (else none is made: no hook could see it)."""

    @classmethod
    def from_settings(cls, settings: ToolkitSettings) -> Handler:
        """Import the user's module and resolve its hooks (does not load the model)."""
        return cls(import_user_module(settings), settings)

    def load(self) -> None:
        """Run ``model_fn`` once; warm the default codecs' numpy import when they are used."""
        self.model = self.model_fn(Context(self.properties), self.settings.model_dir)
        self.loaded = True
        uses_codecs = self.transform_fn is None and (self.input_fn.is_default or self.output_fn.is_default)
        if uses_codecs and importlib.util.find_spec("numpy") is not None:
            importlib.import_module("numpy")

    def invoke(self, body: bytes, content_type: str | None, accept: str | None,
               headers: Headers, stream: PartSink | None = None) -> Response:
        """Run one request through the hooks; never raises (errors become a Response). A result that is
        a generator goes part by part to ``stream`` when there is one."""
        if not accept or accept == content_types.ANY:
            accept = self.default_accept
        processor: RequestProcessor | None = None
        context: Context | None = None
        if self.with_context:
            processor = RequestProcessor(headers)
            context = Context(self.properties, [processor], headers.get(INFERENCE_ID))
        try:
            data: Any = body.decode("utf-8") if content_type in content_types.UTF8_TYPES else body
            if self.transform_fn is not None:
                result = self.transform_fn(context, self.model, data, content_type, accept)
            else:
                result = self._default_transform(context, data, content_type, accept)
            response = _response(result, accept, processor)
            if is_stream(response.body) and stream is None:
                response.body = b"".join(as_bytes(part) for part in response.body)
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            return failure(exc)
        if stream is None or not is_stream(response.body):
            return response
        return _send_parts(response, stream)

    def invoke_batch(self, bodies: list[bytes], content_type: str | None, accept: str | None,
                     headers: Headers, progress: BatchProgress | None = None) -> Response:
        """Run each body as its own invocation (``invoke``, each with a copy of ``headers``), in order; one
        Response holding every answer (``results``); never raises. ``progress`` follows the record running."""
        results: list[list[Any]] = []
        answers: list[bytes] = []
        invoke = self.invoke
        separate = self.with_context
        try:
            for index, body in enumerate(bodies):
                if progress is not None:
                    progress.index, progress.started = index, time.monotonic()
                answer = invoke(body, content_type, accept, headers.copy() if separate else headers)
                results.append([answer.status, len(answer.body), answer.content_type, answer.custom_attributes])
                answers.append(answer.body)
        finally:
            if progress is not None:
                progress.done = True
        return Response(200, b"".join(answers), results=results)

    def _default_transform(self, context: Context | None, data: Any, content_type: str | None, accept: str) -> Any:
        decoded = self.input_fn(context, data, content_type)
        prediction = self.predict_fn(context, decoded, self.model)
        if is_stream(prediction) and self.output_fn.is_default:
            return prediction
        return self.output_fn(context, prediction, accept)


def _send_parts(response: Response, stream: PartSink) -> Response:
    """Iterate a streaming result into ``stream``; the Response says how it ended."""
    parts: Iterator[Any] = response.body  # type: ignore[assignment]
    stream.start(response.status, response.content_type, response.custom_attributes)
    try:
        for part in parts:
            data = as_bytes(part)
            if data:
                stream.part(data)
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        ended = failure(exc)
        ended.streamed = True
        return ended
    return Response(response.status, b"", response.content_type, response.custom_attributes, streamed=True)


def failure(exc: BaseException) -> Response:
    """Print the traceback to stderr and answer the exception's status and message."""
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    message = error_message(exc)
    return Response(error_status(exc), message.encode("utf-8", "replace"), "text/plain; charset=utf-8")


def _hook(user_fn: Any, default: Any, name: str, arguments: tuple[str, ...]) -> Hook:
    if user_fn is None:
        return Hook(default, name, arguments, is_default=True)
    return Hook(user_fn, name, arguments)


def _response(result: Any, accept: str, processor: RequestProcessor | None) -> Response:
    content_type: str | None = accept
    if isinstance(result, tuple):
        result, content_type = result[0], result[1]
    status, attributes = (200, None) if processor is None else (
        processor.get_response_status_code(), processor.get_response_header(CUSTOM_ATTRIBUTES))
    if is_stream(result):
        return Response(status, result, content_type, attributes)
    return Response(status, as_bytes(result), content_type, attributes)


def as_bytes(result: Any) -> bytes:
    """The response body: bytes as is, str as UTF-8, anything else as JSON."""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode("utf-8")
    if isinstance(result, (bytearray, memoryview)):
        return bytes(result)
    if result is None:
        return b""
    return json.dumps(result, default=_jsonable).encode("utf-8")


def _jsonable(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)
