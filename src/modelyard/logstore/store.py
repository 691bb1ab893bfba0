"""``LogStore``: log groups as directories, log streams as append-only files (layout in __init__).

Every call reads the disk, so several processes (the server, a CLI, a test) can share one root.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from modelyard.logstore.errors import GroupExists, GroupNotFound, InvalidToken, StreamExists, StreamNotFound
from modelyard.logstore.events import decode_line, now_ms
from modelyard.logstore.filtering import SCAN_BUDGET, Budget, Cursor, FilterPage, merge
from modelyard.logstore.lines import backward, complete_end, forward, is_line_start, seek_time
from modelyard.logstore.meta import read_meta, write_meta
from modelyard.logstore.names import decode_name, encode_name, is_hashed
from modelyard.logstore.patterns import compile_pattern
from modelyard.logstore.reading import EventPage, TimeRange, read_page
from modelyard.logstore.tokens import parse_filter_token
from modelyard.logstore.writer import LogWriter

GROUP_META = "group.json"
LOG_SUFFIX = ".log"
META_SUFFIX = ".meta"
DEFAULT_LIMIT = 10_000


@dataclass(frozen=True)
class GroupInfo:
    """A log group as DescribeLogGroups shows it."""

    name: str
    creation_time: int
    stored_bytes: int


@dataclass(frozen=True)
class StreamInfo:
    """A log stream as DescribeLogStreams shows it; event times are None for an empty stream."""

    name: str
    creation_time: int
    first_event_timestamp: int | None
    last_event_timestamp: int | None
    last_ingestion_time: int | None
    stored_bytes: int


class LogStore:
    """Log groups and streams under ``root``; safe to use from many threads and processes."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def scoped(self, account: str, region: str) -> LogStore:
        """The log groups of one account in one region (``<root>/<account>/<region>/``)."""
        if not (account.isdigit() and account.isascii() and len(account) == 12):
            raise ValueError(f"not an account id: {account!r}")
        if not region or not all(c.isascii() and (c.isalnum() or c == "-") for c in region):
            raise ValueError(f"not a region name: {region!r}")
        return LogStore(self.root / account / region)

    # groups

    def create_group(self, group: str, *, exist_ok: bool = False) -> None:
        """Create a log group; GroupExists unless ``exist_ok``."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._group_dir(group)
        try:
            path.mkdir()
        except FileExistsError:
            if exist_ok:
                return
            raise GroupExists(group) from None
        write_meta(path / GROUP_META, {"logGroupName": group, "creationTime": now_ms()})

    def group_exists(self, group: str) -> bool:
        """Whether the log group exists."""
        return self._group_dir(group).is_dir()

    def group_info(self, group: str) -> GroupInfo:
        """One log group; GroupNotFound when it does not exist."""
        info = self._group_info(self._group_dir(group))
        if info is None:
            raise GroupNotFound(group)
        return info

    def groups(self, prefix: str | None = None) -> list[GroupInfo]:
        """All log groups whose name starts with ``prefix``, by name."""
        found = []
        for path in self._children(self.root):
            if path.is_dir():
                info = self._group_info(path)
                if info is not None and info.name.startswith(prefix or ""):
                    found.append(info)
        return sorted(found, key=lambda info: info.name)

    def delete_group(self, group: str) -> None:
        """Delete a log group and all its streams; GroupNotFound when it does not exist."""
        path = self._group_dir(group)
        doomed = self.root / f".deleted-{uuid.uuid4().hex}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            raise GroupNotFound(group) from None
        shutil.rmtree(doomed, ignore_errors=True)

    # streams

    def create_stream(self, group: str, stream: str, *, exist_ok: bool = False) -> None:
        """Create an empty log stream; GroupNotFound, or StreamExists unless ``exist_ok``."""
        log_path = self._log_path(group, stream)
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            if exist_ok:
                return
            raise StreamExists(stream) from None
        except FileNotFoundError:
            raise GroupNotFound(group) from None
        os.close(fd)
        self._write_stream_meta(group, stream)

    def stream_info(self, group: str, stream: str) -> StreamInfo:
        """One log stream; GroupNotFound or StreamNotFound."""
        info = self._stream_info(self._log_path(group, stream))
        if info is None:
            self._require_group(group)
            raise StreamNotFound(stream)
        return info

    def streams(self, group: str, prefix: str | None = None) -> list[StreamInfo]:
        """The group's streams whose name starts with ``prefix``, by name; GroupNotFound."""
        group_dir = self._require_group(group)
        found = []
        for path in self._children(group_dir):
            if path.name.endswith(LOG_SUFFIX):
                name = self._stream_name(path)
                if name is not None and name.startswith(prefix or ""):
                    info = self._stream_info(path, name)
                    if info is not None:
                        found.append(info)
        return sorted(found, key=lambda info: info.name)

    def delete_stream(self, group: str, stream: str) -> None:
        """Delete a log stream; GroupNotFound or StreamNotFound."""
        log_path = self._log_path(group, stream)
        try:
            log_path.unlink()
        except FileNotFoundError:
            self._require_group(group)
            raise StreamNotFound(stream) from None
        log_path.with_suffix(META_SUFFIX).unlink(missing_ok=True)

    # writing

    def writer(self, group: str, stream: str) -> LogWriter:
        """A writer appending to the stream, creating the group and stream if needed."""
        self.create_group(group, exist_ok=True)
        log_path = self._log_path(group, stream)
        if not log_path.exists():
            self.create_stream(group, stream, exist_ok=True)
        return LogWriter(log_path, lambda: self._write_stream_meta(group, stream, unordered=True))

    def append(self, group: str, stream: str, events: Iterable[tuple[int, str]]) -> None:
        """Append ``(timestamp_ms, message)`` events to an existing stream (PutLogEvents)."""
        log_path = self._log_path(group, stream)
        if not log_path.exists():
            self._require_group(group)
            raise StreamNotFound(stream)
        with LogWriter(log_path, lambda: self._write_stream_meta(group, stream, unordered=True)) as out:
            out.write_events(events)

    # reading

    def read(self, group: str, stream: str, start_time: int | None = None, end_time: int | None = None,
             start_from_head: bool = False, limit: int = DEFAULT_LIMIT,
             token: str | None = None) -> EventPage:
        """A GetLogEvents page (semantics in ``reading``); InvalidToken for a foreign token."""
        with self._open(group, stream) as f:
            span = TimeRange(start_time, end_time, self._ordered(group, stream))
            return read_page(f, span, start_from_head=start_from_head, limit=limit, token=token)

    def filter(self, group: str, stream_names: list[str] | None = None, stream_prefix: str | None = None,
               pattern: str | None = None, start_time: int | None = None, end_time: int | None = None,
               limit: int = DEFAULT_LIMIT, token: str | None = None) -> FilterPage:
        """A FilterLogEvents page over the named streams, the prefixed ones, or all of the group's."""
        match = compile_pattern(pattern)
        positions = parse_filter_token(token) if token else {}
        names = self._selected_streams(group, stream_names, stream_prefix)
        budget = Budget(SCAN_BUDGET)
        with ExitStack() as stack:
            cursors = []
            for name in names:
                f = self._open_or_none(stack, group, name)
                if f is not None:
                    cursors.append(self._cursor(f, group, name, start_time, end_time,
                                                positions.get(name), budget))
            return merge(cursors, match, limit, budget)

    def tail(self, group: str, stream: str, lines: int) -> list[str]:
        """The last ``lines`` messages of a stream, oldest first (for failure reasons and CLIs)."""
        with self._open(group, stream) as f:
            found = []
            for _, _, raw in backward(f, complete_end(f)):
                event = decode_line(raw)
                if event is not None:
                    found.append(event.message)
                if len(found) >= lines:
                    break
            return found[::-1]

    # internals

    def _group_dir(self, group: str) -> Path:
        return self.root / encode_name(group)

    def _log_path(self, group: str, stream: str) -> Path:
        return self._group_dir(group) / (encode_name(stream) + LOG_SUFFIX)

    def _require_group(self, group: str) -> Path:
        path = self._group_dir(group)
        if not path.is_dir():
            raise GroupNotFound(group)
        return path

    @staticmethod
    def _children(path: Path) -> Iterator[Path]:
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            return
        for entry in entries:
            if not entry.name.startswith("."):
                yield Path(entry.path)

    def _group_info(self, path: Path) -> GroupInfo | None:
        meta = read_meta(path / GROUP_META)
        name = meta.get("logGroupName") or (None if is_hashed(path.name) else decode_name(path.name))
        try:
            created = int(meta.get("creationTime") or path.stat().st_mtime * 1000)
            stored = sum(p.stat().st_size for p in self._children(path) if p.name.endswith(LOG_SUFFIX))
        except FileNotFoundError:
            return None
        return None if name is None else GroupInfo(name, created, stored)

    def _stream_name(self, log_path: Path) -> str | None:
        component = log_path.name[: -len(LOG_SUFFIX)]
        if not is_hashed(component):
            return decode_name(component)
        return read_meta(log_path.with_suffix(META_SUFFIX)).get("logStreamName")

    def _stream_info(self, log_path: Path, name: str | None = None) -> StreamInfo | None:
        meta = read_meta(log_path.with_suffix(META_SUFFIX))
        try:
            with open(log_path, "rb") as f:
                size = f.seek(0, 2)
                end = complete_end(f)
                first = next((decode_line(raw) for _, _, raw in forward(f, 0, end)), None)
                last = next((decode_line(raw) for _, _, raw in backward(f, end)), None)
                created = int(meta.get("creationTime") or os.fstat(f.fileno()).st_mtime * 1000)
        except FileNotFoundError:
            return None
        name = name or meta.get("logStreamName") or self._stream_name(log_path)
        if name is None:
            return None
        return StreamInfo(name, created, first.timestamp if first else None, last.timestamp if last else None,
                          last.ingestion_time if last else None, size)

    def _write_stream_meta(self, group: str, stream: str, unordered: bool = False) -> None:
        meta_path = self._log_path(group, stream).with_suffix(META_SUFFIX)
        meta = read_meta(meta_path)
        meta.setdefault("logStreamName", stream)
        meta.setdefault("creationTime", now_ms())
        meta["unordered"] = bool(meta.get("unordered")) or unordered
        with suppress(FileNotFoundError):
            write_meta(meta_path, meta)

    def _ordered(self, group: str, stream: str) -> bool:
        meta = read_meta(self._log_path(group, stream).with_suffix(META_SUFFIX))
        return not meta.get("unordered")

    @contextmanager
    def _open(self, group: str, stream: str) -> Iterator[BinaryIO]:
        try:
            f = open(self._log_path(group, stream), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            self._require_group(group)
            raise StreamNotFound(stream) from None
        with f:
            yield f

    def _open_or_none(self, stack: ExitStack, group: str, stream: str) -> BinaryIO | None:
        try:
            return stack.enter_context(open(self._log_path(group, stream), "rb"))
        except FileNotFoundError:
            return None

    def _selected_streams(self, group: str, names: list[str] | None, prefix: str | None) -> list[str]:
        if names:
            self._require_group(group)
            return sorted(set(names))
        return [info.name for info in self.streams(group, prefix)]

    def _cursor(self, f: BinaryIO, group: str, name: str, start_time: int | None, end_time: int | None,
                position: int | None, budget: Budget) -> Cursor:
        span = TimeRange(start_time, end_time, self._ordered(group, name))
        end = complete_end(f)
        if position is not None:
            if not is_line_start(f, position, end):
                raise InvalidToken(name)
            start = position
        elif span.ordered and start_time is not None:
            start = seek_time(f, start_time, 0, end)
        else:
            start = 0
        return Cursor(name, f, span, start, end, budget)

