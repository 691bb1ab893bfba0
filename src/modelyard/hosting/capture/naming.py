"""Where a capture file goes: ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl``.

The hour directories and the name's minute, second and millisecond are the UTC time of the file's
first record, as SageMaker names them.
"""

from __future__ import annotations

import time
import uuid


def hour_of(epoch: float) -> int:
    """The UTC hour an instant falls in (records of one file share it)."""
    return int(epoch // 3600)


def capture_file_uri(destination: str, endpoint: str, variant: str, first_record: float) -> str:
    """A fresh object URI for a file whose first record was captured at ``first_record``."""
    moment = time.gmtime(first_record)
    millis = int(first_record * 1000) % 1000
    hour_path = time.strftime("%Y/%m/%d/%H", moment)
    name = f"{time.strftime('%M-%S', moment)}-{millis:03d}-{uuid.uuid4()}.jsonl"
    return f"{destination.rstrip('/')}/{endpoint}/{variant}/{hour_path}/{name}"
