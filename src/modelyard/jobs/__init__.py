"""Pure job logic: transform split/batch/assemble, DataProcessing filters, training config and env."""

from __future__ import annotations

from modelyard.jobs.batching import Batch, BatchStrategy, join_records, make_batches, payload_limit
from modelyard.jobs.errors import RecordFormatError, RecordTooLargeError
from modelyard.jobs.filters import (
    DataFormat,
    DataProcessing,
    DataProcessingError,
    JoinSource,
    RecordProcessor,
    data_format_for,
)
from modelyard.jobs.jsonpath import InvalidJsonPathError, JsonPath, JsonPathSelectError, parse_jsonpath
from modelyard.jobs.output_assembly import AssembleWith, assemble, assemble_chunk
from modelyard.jobs.splitting import SplitType, split_lines, split_records
from modelyard.jobs.training_config import (
    host_names,
    hyperparameters_file,
    input_data_config_file,
    resource_config_file,
)
from modelyard.jobs.training_env import (
    ScriptModeEnvironment,
    TrainingPaths,
    decode_hyperparameters,
    script_mode_environment,
    to_cmd_args,
)

__all__ = [
    "AssembleWith", "Batch", "BatchStrategy", "DataFormat", "DataProcessing", "DataProcessingError",
    "InvalidJsonPathError", "JoinSource", "JsonPath", "JsonPathSelectError", "RecordFormatError",
    "RecordProcessor", "RecordTooLargeError", "ScriptModeEnvironment", "SplitType", "TrainingPaths",
    "assemble", "assemble_chunk", "data_format_for", "decode_hyperparameters", "host_names",
    "hyperparameters_file", "input_data_config_file", "join_records", "make_batches", "parse_jsonpath",
    "payload_limit", "resource_config_file", "script_mode_environment", "split_lines", "split_records",
    "to_cmd_args",
]
