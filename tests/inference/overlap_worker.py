"""A real worker that counts how many batches it runs at the same moment."""

from __future__ import annotations

import threading
import time

from inference.worker import Worker


class OverlapWorker(Worker):
    """The real worker, with a slow model (each batch takes 50 ms more, so the next one
    arrives while it runs), counting the batches in `process` at once: `most`, and every
    batch's frame count in `batches`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._lock, self.now, self.most = threading.Lock(), 0, 0
        self.batches: list[int] = []

    def process(self, frames):
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.batches.append(len(frames))
        try:
            time.sleep(0.05)
            return super().process(frames)
        finally:
            with self._lock:
                self.now -= 1
