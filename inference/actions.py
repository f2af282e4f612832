"""What happens to a parcel after its prediction, without ever holding up the belt.

- critical -> `Diverter`: an HTTP POST to the conveyor's PLC gateway, sent from a small
  thread pool with a short timeout; a failure is logged and counted, never raised.
- minor and critical -> `ImageStore`: the image is kept, content-addressed, so a person can
  label it later; the prediction row records where (`image_ref`). The evidence frames
  (evidence.py) go to the same store, under the same retention.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from inference.metrics import DIVERTS

log = logging.getLogger(__name__)

_EXTENSIONS = {b"\xff\xd8\xff": ".jpg", b"\x89PNG": ".png", b"BM": ".bmp", b"RIFF": ".webp"}


class ImageStore:
    """Content-addressed files: `ab/cd/<sha256>.<ext>` under `root`; a duplicate is free."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        """Store `data` (if new) and return its reference, a path relative to the root."""
        digest = hashlib.sha256(data).hexdigest()
        ext = next((e for magic, e in _EXTENSIONS.items() if data.startswith(magic)), ".bin")
        ref = f"{digest[:2]}/{digest[2:4]}/{digest}{ext}"
        path = self.root / ref
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader never sees half an image, a crash leaves a temp file.
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return ref

    def path_of(self, ref: str) -> Path:
        return self.root / ref

    def prune(self, older_than_days: float, now: float | None = None) -> int:
        """Delete stored images older than `older_than_days`; return how many."""
        cutoff = (now if now is not None else time.time()) - older_than_days * 86400
        removed = 0
        for path in self.root.glob("*/*/*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class Diverter:
    """Sends divert requests for critical parcels in the background."""

    def __init__(self, url: SecretStr | None, *, timeout_s: float, max_pending: int = 1000) -> None:
        self._url = url
        self._client = httpx.Client(timeout=timeout_s) if url is not None else None
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="divert")
        self._pending = threading.BoundedSemaphore(max_pending)
        self.sent = self.failed = 0

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def divert(self, payload: dict[str, Any]) -> None:
        """Queue one divert request; returns at once. A full queue counts as a failure."""
        if self._client is None:
            return
        if not self._pending.acquire(blocking=False):
            self._count(
                "backlog",
                "divert queue full; request for parcel %s not sent",
                payload.get("parcel_id"),
            )
            return
        self._pool.submit(self._send, payload)

    def _send(self, payload: dict[str, Any]) -> None:
        assert self._client is not None and self._url is not None
        try:
            response = self._client.post(self._url.get_secret_value(), json=payload)
        except httpx.TimeoutException:
            self._count("timeout", "divert call for parcel %s timed out", payload.get("parcel_id"))
        except httpx.HTTPError as error:
            # The URL may carry credentials: name the error type, never the URL.
            self._count(
                "error",
                "divert call for parcel %s failed: %s",
                payload.get("parcel_id"),
                type(error).__name__,
            )
        else:
            if response.is_success:
                self.sent += 1
                DIVERTS.labels("sent").inc()
            else:
                self._count(
                    "rejected",
                    "divert call for parcel %s answered %d",
                    payload.get("parcel_id"),
                    response.status_code,
                )
        finally:
            self._pending.release()

    def _count(self, outcome: str, message: str, *args: object) -> None:
        self.failed += 1
        DIVERTS.labels(outcome).inc()
        log.warning(message, *args)

    def close(self) -> None:
        """Finish queued requests (each bounded by its own timeout), then stop."""
        self._pool.shutdown(wait=True)
        if self._client is not None:
            self._client.close()
