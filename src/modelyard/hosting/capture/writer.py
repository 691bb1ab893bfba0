"""The writer thread of one capturing deployment: drain the sink, write rotated files, upload them.

    every FLUSH_INTERVAL: drain (unless paused) -> append lines to the variant's staging file
                          -> seal files that are old, big, or of a past hour -> upload sealed files
    close(): stop accepting, drain, seal and upload everything, report drops

Nothing here can slow an invocation: the invoke path only touches the sink. While uploads fail the
sealed files wait (retried with backoff); once they hold ``queue_bytes`` the writer stops draining,
so the sink fills and drops. It also stops draining while the staging disk has less than
``min_free_bytes`` free. Drops are reported in the server log (at most every ``REPORT_EVERY`` s).
Encoding runs in Python under the GIL, so the writer lets it go every ``YIELD_EVERY`` records.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
import uuid
from pathlib import Path

from modelyard.desired.capture import CaptureConfig
from modelyard.hosting.capture.naming import capture_file_uri, hour_of
from modelyard.hosting.capture.records import CapturedEvent, capture_line
from modelyard.hosting.capture.sink import CaptureSink
from modelyard.hosting.capture.staging import StagedFile
from modelyard.settings import CaptureLimits
from modelyard.storage import ObjectStore

log = logging.getLogger("modelyard.hosting.capture")
FLUSH_INTERVAL = 0.2
REPORT_EVERY = 10.0
MAX_RETRY_DELAY = 30.0
YIELD_EVERY = 32
"""Records encoded between two releases of the GIL, so the event loop never waits long for it."""
HURRY_CHECK_SECONDS = 0.1
"""How often a closing writer looks whether ``hurry`` shortened its wait."""


class CaptureWriter:
    """Writes one endpoint's captured invocations to ``<destination>/<endpoint>/<variant>/...``."""

    def __init__(self, endpoint: str, config: CaptureConfig, store: ObjectStore, staging: Path,
                 limits: CaptureLimits, sink: CaptureSink | None = None) -> None:
        self.endpoint = endpoint
        self.config = config
        self.store = store
        self.staging = staging
        self.limits = limits
        self.sink = sink or CaptureSink(config.sampling_percentage, limits.queue_records, limits.queue_bytes)
        self.uploaded_files = 0
        self.uploaded_records = 0
        self.lost_records = 0
        self._open: dict[str, StagedFile] = {}
        self._sealed: list[StagedFile] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{endpoint}", daemon=True)
        self._reported_drops = 0
        self._reported_at = 0.0
        self._paused: str | None = None
        self._failing: str | None = None
        self._hurried_until = float("inf")

    def start(self) -> CaptureWriter:
        """Start the writer thread."""
        self.staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread.start()
        return self

    def close(self, timeout: float) -> bool:
        """Stop capturing, then write and upload what was captured; whether that finished within ``timeout``
        (or the shorter time ``hurry`` set meanwhile)."""
        self.sink.closed = True
        self._stop.set()
        started = time.monotonic()
        while self._thread.is_alive():
            left = min(started + timeout, self._hurried_until) - time.monotonic()
            if left <= 0:
                break
            self._thread.join(min(left, HURRY_CHECK_SECONDS))
        if self._thread.is_alive():
            log.warning("data capture of endpoint %s: still uploading to %s after %.0f s; it goes on in the "
                        "background", self.endpoint, self.config.destination, time.monotonic() - started)
            return False
        return True

    def hurry(self, within: float) -> None:
        """Make a ``close`` under way (or the next) return within ``within`` seconds from now, leaving what is
        not uploaded by then to the thread (the server is stopping: files not stored stay staged on disk and
        are stored when it starts again)."""
        self._hurried_until = min(self._hurried_until, time.monotonic() + within)

    # the thread

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            self._cycle(final=False)
        self._cycle(final=True)
        self._report_drops(force=True)
        unwritten = len(self.sink.take())
        if unwritten:
            self.lost_records += unwritten
            log.warning("data capture of endpoint %s: %d captured record(s) were never written: capture was "
                        "paused (%s)", self.endpoint, unwritten, self._paused)
        if self._sealed:
            lost = sum(f.records for f in self._sealed)
            self.lost_records += lost
            log.error("data capture of endpoint %s: %d captured record(s) could not be stored at %s (%s); "
                      "they are kept in the server's data dir and stored when it starts again", self.endpoint, lost,
                      self.config.destination, self._failing)
        else:
            with contextlib.suppress(OSError):
                self.staging.rmdir()

    def _cycle(self, *, final: bool) -> None:
        try:
            if self.sink.queue and self._may_drain():
                self._drain()
            self._seal_due(final)
            self._upload(final)
            self._report_drops()
        except Exception:
            log.exception("data capture of endpoint %s: unexpected error in the writer", self.endpoint)

    def _may_drain(self) -> bool:
        waiting = sum(f.size for f in self._sealed)
        if waiting >= self.limits.queue_bytes:
            return self._pause(f"{waiting} bytes wait for upload to {self.config.destination}")
        free = shutil.disk_usage(self.staging).free
        if free < self.limits.min_free_bytes:
            return self._pause(f"the server's disk has {free} bytes free, less than MODELYARD_CAPTURE_MIN_FREE_BYTES "
                               f"({self.limits.min_free_bytes})")
        if self._paused is not None:
            log.warning("data capture of endpoint %s resumed", self.endpoint)
            self._paused = None
        return True

    def _pause(self, reason: str) -> bool:
        if self._paused is None:
            log.warning("data capture of endpoint %s paused: %s; invocations are not captured meanwhile",
                        self.endpoint, reason)
        self._paused = reason
        return False

    def _drain(self) -> None:
        for count, event in enumerate(self.sink.take(), 1):
            if count % YIELD_EVERY == 0:
                time.sleep(0)
            try:
                self._file_for(event).append(capture_line(event, self.config))
            except OSError as exc:
                self.lost_records += 1
                log.warning("data capture of endpoint %s: cannot write a record to the server's disk: %s",
                            self.endpoint, exc)
        for staged in self._open.values():
            staged.flush()

    def _file_for(self, event: CapturedEvent) -> StagedFile:
        staged = self._open.get(event.variant)
        if staged is not None and staged.hour != hour_of(event.time):
            self._seal(event.variant)
            staged = None
        if staged is None:
            uri = capture_file_uri(self.config.destination, self.endpoint, event.variant, event.time)
            staged = StagedFile.create(self.staging / f"{uuid.uuid4().hex}.jsonl", uri, hour_of(event.time))
            self._open[event.variant] = staged
        return staged

    def _seal(self, variant: str) -> None:
        staged = self._open.pop(variant)
        staged.seal()
        self._sealed.append(staged)

    def _seal_due(self, final: bool) -> None:
        now = time.monotonic()
        for variant, staged in list(self._open.items()):
            if (final or staged.size >= self.limits.rotate_bytes
                    or now - staged.opened >= self.limits.rotate_seconds
                    or hour_of(time.time()) != staged.hour):
                self._seal(variant)

    def _upload(self, final: bool) -> None:
        now = time.monotonic()
        for staged in list(self._sealed):
            if not final and staged.retry_at > now:
                continue
            try:
                self.store.upload_file(staged.path, staged.uri)
            except Exception as exc:  # noqa: BLE001 - any storage failure is retried, never raised
                self._upload_failed(staged, exc, now)
                continue
            self._sealed.remove(staged)
            staged.remove()
            self.uploaded_files += 1
            self.uploaded_records += staged.records
            if self._failing is not None:
                log.warning("data capture of endpoint %s: uploads to %s work again", self.endpoint,
                            self.config.destination)
                self._failing = None

    def _upload_failed(self, staged: StagedFile, exc: Exception, now: float) -> None:
        staged.attempts += 1
        staged.retry_at = now + min(MAX_RETRY_DELAY, 0.5 * 2 ** staged.attempts)
        reason = str(exc) or type(exc).__name__
        if self._failing is None:
            log.warning("data capture of endpoint %s: cannot store captured files at %s: %s; retrying",
                        self.endpoint, self.config.destination, reason)
        self._failing = reason

    def _report_drops(self, force: bool = False) -> None:
        dropped = self.sink.dropped
        now = time.monotonic()
        if dropped == self._reported_drops or (not force and self._reported_drops
                                                and now - self._reported_at < REPORT_EVERY):
            return
        log.warning("data capture of endpoint %s dropped %d invocation(s) since the last report (%d in all, %d "
                    "captured): its queue (%d records, %d bytes) was full%s", self.endpoint,
                    dropped - self._reported_drops, dropped, self.sink.accepted, self.limits.queue_records,
                    self.limits.queue_bytes, f" while paused: {self._paused}" if self._paused else "")
        self._reported_drops, self._reported_at = dropped, now
