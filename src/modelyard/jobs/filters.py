"""``DataProcessing``: InputFilter, JoinSource and OutputFilter for batch transform records.

    input record ──InputFilter──► sent to the model ──► output
         │                                                │
         └──────────── JoinSource=Input ──────────────────┴─► joined ──OutputFilter──► written

CSV records are treated as JSON arrays of their fields (RFC 4180), so only index paths apply.
Joining follows the developer guide: CSV → input fields followed by output fields; a JSON
object → the input object plus ``"SageMakerOutput"``; any other JSON value →
``{"SageMakerInput": input, "SageMakerOutput": output}``. The join uses the raw (unfiltered)
input record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from modelyard.jobs.jsonpath import JsonPath, JsonPathSelectError, parse_jsonpath

OUTPUT_KEY = "SageMakerOutput"
INPUT_KEY = "SageMakerInput"

_CSV_TYPES = {"text/csv", "application/csv", "text/x-csv"}
_JSON_TYPES = {"application/json", "application/jsonlines", "application/x-jsonlines", "application/jsonl",
               "application/json-lines", "text/json"}


class DataProcessingError(ValueError):
    """A record cannot be filtered or joined as configured."""


class DataFormat(str, Enum):
    """How records are parsed for filtering and joining."""

    CSV = "csv"
    JSON = "json"


class JoinSource(str, Enum):
    """``DataProcessing.JoinSource``."""

    NONE = "None"
    INPUT = "Input"


def data_format_for(content_type: str | None) -> DataFormat | None:
    """CSV or JSON for a MIME type (parameters ignored), ``None`` for anything else."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in _CSV_TYPES:
        return DataFormat.CSV
    if mime in _JSON_TYPES or mime.endswith("+json"):
        return DataFormat.JSON
    return None


@dataclass(frozen=True)
class DataProcessing:
    """Parsed ``DataProcessing`` settings (defaults: ``$``, ``None``, ``$``)."""

    input_filter: JsonPath = field(default_factory=lambda: parse_jsonpath("$"))
    output_filter: JsonPath = field(default_factory=lambda: parse_jsonpath("$"))
    join_source: JoinSource = JoinSource.NONE

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> DataProcessing:
        """Parse the API shape; raises ``InvalidJsonPathError``/``ValueError`` naming the bad value."""
        data = data or {}
        join = data.get("JoinSource") or "None"
        try:
            join_source = JoinSource(join)
        except ValueError:
            raise ValueError(f"unknown JoinSource {join!r}; expected None or Input") from None
        return cls(parse_jsonpath(data.get("InputFilter")), parse_jsonpath(data.get("OutputFilter")),
                   join_source)

    @property
    def is_identity(self) -> bool:
        """True when records pass through untouched."""
        return (self.input_filter.is_root and self.output_filter.is_root
                and self.join_source is JoinSource.NONE)

    @property
    def per_record_outputs(self) -> bool:
        """True when each record's output must be handled separately (join or output filter)."""
        return self.join_source is JoinSource.INPUT or not self.output_filter.is_root


class RecordProcessor:
    """Applies one job's :class:`DataProcessing` to records, given the input and output formats."""

    def __init__(self, processing: DataProcessing, input_format: DataFormat | None,
                 output_format: DataFormat | None) -> None:
        self.processing = processing
        self.input_format = input_format
        self.output_format = output_format
        if not processing.input_filter.is_root or processing.join_source is JoinSource.INPUT:
            _require_format(input_format, "input (ContentType)", "InputFilter or JoinSource=Input")
        if not processing.output_filter.is_root and processing.join_source is JoinSource.NONE:
            _require_format(output_format, "output (Accept)", "OutputFilter")
        for path, fmt in ((processing.input_filter, input_format), (processing.output_filter,
                                                                    self._joined_format)):
            if fmt is DataFormat.CSV and path.uses_names:
                raise DataProcessingError(
                    f"JSONPath {path.expression!r} selects by name, but CSV rows are arrays: use "
                    "index paths such as $[0] or $[1:]")

    @property
    def _joined_format(self) -> DataFormat | None:
        return self.input_format if self.processing.join_source is JoinSource.INPUT else self.output_format

    def filter_input(self, record: bytes) -> bytes:
        """The part of ``record`` sent to the model (``InputFilter``)."""
        path = self.processing.input_filter
        if path.is_root:
            return record
        if self.input_format is DataFormat.CSV:
            return _csv_row(_select(path, _csv_fields(record)))
        return _json_bytes(_select(path, _json_value(record, "input record")))

    def split_outputs(self, response: bytes, count: int) -> list[bytes]:
        """One output per record of a MultiRecord response (one line each, or a JSON array)."""
        if count == 1:
            return [response]
        lines = response.split(b"\n")
        if lines and lines[-1] in (b"", b"\r"):
            lines.pop()
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        if len(lines) == count:
            return lines
        if self.output_format is DataFormat.JSON:
            try:
                value = json.loads(response)
            except ValueError:
                value = None
            if isinstance(value, list) and len(value) == count:
                return [_json_bytes(item) for item in value]
        raise DataProcessingError(
            f"the model returned {len(lines)} line(s) for a request of {count} records; with "
            "JoinSource=Input or an OutputFilter under MultiRecord it must return one line per record")

    def finish(self, input_record: bytes, output: bytes) -> bytes:
        """The output written for one record: joined with its input if asked, then ``OutputFilter``."""
        path = self.processing.output_filter
        if self.processing.join_source is JoinSource.INPUT:
            if self.input_format is DataFormat.CSV:
                joined: Any = _csv_fields(input_record) + self._output_fields(output)
                return _csv_row(_select(path, joined))
            return _json_bytes(_select(path, _join_json(_json_value(input_record, "input record"),
                                                        _decoded_output(output))))
        if path.is_root:
            return output
        if self.output_format is DataFormat.CSV:
            return _csv_row(_select(path, self._output_fields(output)))
        return _json_bytes(_select(path, _json_value(output, "model output")))

    def _output_fields(self, output: bytes) -> list[Any]:
        if self.output_format is DataFormat.JSON:
            value = _decoded_output(output)
            return list(value) if isinstance(value, list) else [value]
        text = output.decode("utf-8", errors="replace").rstrip("\r\n")
        if "\n" in text:
            raise DataProcessingError("a record's CSV output spans several lines; it must be one row")
        return _csv_fields(text.encode())


def _require_format(fmt: DataFormat | None, what: str, feature: str) -> None:
    if fmt is None:
        raise DataProcessingError(
            f"{feature} needs CSV or JSON {what}: use text/csv, application/json or application/jsonlines")


def _select(path: JsonPath, value: Any) -> Any:
    try:
        return path.select(value)
    except JsonPathSelectError as exc:
        raise DataProcessingError(str(exc)) from exc


def _csv_fields(record: bytes) -> list[Any]:
    text = record.decode("utf-8", errors="replace").rstrip("\r\n")
    if not text:
        return []
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise DataProcessingError(f"record is not a valid CSV row ({exc}): {text[:80]!r}") from exc


def _csv_row(selected: Any) -> bytes:
    values = selected if isinstance(selected, list) else [selected]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([_csv_cell(value) for value in values])
    return buffer.getvalue().encode()


def _csv_cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_value(record: bytes, what: str) -> Any:
    try:
        return json.loads(record)
    except ValueError as exc:
        raise DataProcessingError(f"{what} is not valid JSON ({exc}): {record[:80]!r}") from exc


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _decoded_output(output: bytes) -> Any:
    try:
        return json.loads(output)
    except ValueError:
        return output.decode("utf-8", errors="replace").strip()


def _join_json(input_value: Any, output_value: Any) -> Any:
    if isinstance(input_value, dict):
        return {**input_value, OUTPUT_KEY: output_value}
    return {INPUT_KEY: input_value, OUTPUT_KEY: output_value}
