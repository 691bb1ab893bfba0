"""Starts the capture writers of deployments: one object store, one staging area, one set of limits."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from modelyard.desired.capture import CaptureConfig
from modelyard.hosting.capture.recovery import leftover_files, store_leftovers
from modelyard.hosting.capture.writer import CaptureWriter
from modelyard.settings import CaptureLimits
from modelyard.storage import ObjectStore


class CaptureService:
    """Builds and starts a :class:`CaptureWriter` for each deployment that captures."""

    def __init__(self, store: ObjectStore, staging_root: Path, limits: CaptureLimits) -> None:
        self.store = store
        self.staging_root = staging_root
        self.limits = limits

    def start(self, account: str, region: str, endpoint: str, config: CaptureConfig) -> CaptureWriter:
        """A running writer for one deployment of ``endpoint`` (its own staging directory)."""
        staging = self.staging_root / account / region / endpoint / uuid.uuid4().hex
        return CaptureWriter(endpoint, config, self.store, staging, self.limits).start()

    def recover(self) -> threading.Thread:
        """Store, in a background thread, the files an earlier server process left staged."""
        files = leftover_files(self.staging_root)
        thread = threading.Thread(target=store_leftovers, args=(files, self.store), name="capture-recovery",
                                  daemon=True)
        thread.start()
        return thread
