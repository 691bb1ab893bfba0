"""Copy a child process's output pipe into a log stream, line by line, as it arrives.

    proc = subprocess.Popen(cmd, stdout=PIPE, stderr=PIPE)
    with store.writer(group, stream) as out:
        threads = [pump(proc.stdout, out), pump(proc.stderr, out)]
        proc.wait(); [t.join() for t in threads]

The pump keeps draining the pipe even if the store cannot be written (the child must never block
on a full pipe); the first write failure is logged.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import threading
from typing import BinaryIO

from modelyard.logstore.events import MAX_MESSAGE_BYTES
from modelyard.logstore.writer import LogWriter

log = logging.getLogger("modelyard.logstore")


def pump(stream: BinaryIO | int, writer: LogWriter, *, name: str | None = None) -> threading.Thread:
    """Start a daemon thread that writes each line read from ``stream`` to ``writer`` until EOF.

    ``stream`` is a binary file object or a file descriptor; the pump closes it at EOF (not the
    writer, which several pumps may share). Lines are decoded as UTF-8 with replacement, lose
    their trailing newline, are stamped with the time they were read, and are split at
    CloudWatch's 256 KB event limit. Empty lines are skipped, as CloudWatch stores no empty events.
    """
    source = os.fdopen(stream, "rb") if isinstance(stream, int) else stream
    thread = threading.Thread(target=_copy, args=(source, writer), daemon=True,
                              name=name or f"log-pump-{writer.path.name}")
    thread.start()
    return thread


def _copy(source: BinaryIO, writer: LogWriter) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    failed = False
    try:
        while True:
            chunk = source.readline(MAX_MESSAGE_BYTES)
            if not chunk:
                break
            text = decoder.decode(chunk, final=False)
            if chunk.endswith(b"\n"):
                text = text[:-2] if text.endswith("\r\n") else text[:-1]
            if text and not failed:
                failed = not _write(writer, text)
        rest = decoder.decode(b"", final=True)
        if rest and not failed:
            _write(writer, rest)
    except (OSError, ValueError) as exc:
        log.warning("log pump for %s stopped reading: %s", writer.path.name, exc)
    finally:
        with contextlib.suppress(OSError):
            source.close()


def _write(writer: LogWriter, text: str) -> bool:
    try:
        writer.write_line(text)
        return True
    except (OSError, ValueError) as exc:
        log.warning("log pump for %s cannot write (output is discarded from now on): %s",
                    writer.path.name, exc)
        return False
