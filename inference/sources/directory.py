"""The directory source: cameras (or a gateway) drop image files into a folder.

Where a frame's facts come from, first match wins:
- a sidecar `<name>.json` beside the image: {"station_id": ..., "parcel_id": ...,
  "captured_at": "2026-11-25T08:15:30.120Z"} (parcel_id and captured_at optional);
- the file name `STATION__PARCEL__20261125T081530.120Z.jpg`: parts separated by a double
  underscore; the parcel and the time are optional (`STATION__20261125T081530Z.png`,
  `STATION__PARCEL.jpg`); without a time, the file's modification time is used.

Writers should write to a hidden or `.tmp`/`.part` name and rename when done; files younger
than `settle_s` are left alone too, in case they are still being copied. A processed image
moves to `done/<UTC date>/`, a refused one to `failed/` beside `<name>.error.txt` saying
why. Each file's prediction id is derived from its name, size and modification time, so a
restart after a crash between logging and moving stores no duplicate (a critical parcel's
divert call may then be repeated: at least once is the safe side for a divert).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from inference.worker import FrameIn, Outcome, Worker
from monitor.core.exceptions import BeltwatchError, PredictionLogFull

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
_TIME = re.compile(r"^(\d{8}T\d{6})(?:\.(\d{1,6}))?Z$")
_NAMESPACE = uuid.UUID("6f1c3c55-1b0e-4c53-9c4e-2a8f3b0d7e11")  # beltwatch directory frames


class FrameNameError(BeltwatchError, ValueError):
    """A file whose station, parcel or time cannot be read."""


@dataclass(frozen=True)
class FrameFile:
    path: Path
    station_id: str
    parcel_id: str | None
    captured_at: datetime
    id: uuid.UUID


def _parse_time(text: str) -> datetime:
    match = _TIME.match(text)
    if not match:
        raise FrameNameError(f"not a time of the form 20261125T081530.120Z: {text!r}")
    stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    micros = int((match.group(2) or "0").ljust(6, "0"))
    return stamp.replace(microsecond=micros)


def describe(path: Path) -> FrameFile:
    """The station, parcel and capture time of an image file (sidecar first, then name)."""
    stat = path.stat()
    mtime = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC)
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            facts = json.loads(sidecar.read_text())
            station = facts["station_id"]
            parcel = facts.get("parcel_id")
            raw_time = facts.get("captured_at")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise FrameNameError(
                f"sidecar {sidecar.name} unreadable or without station_id: {error}"
            ) from None
        try:
            captured = (
                datetime.fromisoformat(raw_time.replace("Z", "+00:00")) if raw_time else mtime
            )
        except (ValueError, AttributeError):
            raise FrameNameError(
                f"sidecar {sidecar.name}: captured_at {raw_time!r} is not ISO 8601"
            ) from None
        if captured.tzinfo is None:
            raise FrameNameError(f"sidecar {sidecar.name}: captured_at needs a time zone")
    else:
        parts = path.stem.split("__")
        if len(parts) < 2 or not parts[0]:
            raise FrameNameError(
                f"{path.name}: no station id; name it STATION__PARCEL__20261125T081530Z"
                f"{path.suffix} or add a sidecar {sidecar.name}"
            )
        station, rest = parts[0], parts[1:]
        captured, parcel = mtime, None
        if rest and _TIME.match(rest[-1]):
            captured = _parse_time(rest.pop())
        if len(rest) > 1:
            raise FrameNameError(
                f"{path.name}: too many '__' parts; expected STATION__PARCEL__TIME"
            )
        parcel = rest[0] if rest else None
    key = f"{station}|{path.name}|{stat.st_size}|{stat.st_mtime_ns}"
    return FrameFile(path, str(station), parcel, captured, uuid.uuid5(_NAMESPACE, key))


class DirectorySource:
    """Feeds the files of one folder to a worker, moving each to done/ or failed/."""

    def __init__(
        self,
        root: Path,
        worker: Worker,
        *,
        batch_size: int = 8,
        settle_s: float = 1.0,
        poll_interval_s: float = 0.2,
    ) -> None:
        self.root = root
        self.worker = worker
        self.batch_size = batch_size
        self.settle_s = settle_s
        self.poll_interval_s = poll_interval_s
        self.done_dir = root / "done"
        self.failed_dir = root / "failed"
        for directory in (root, self.done_dir, self.failed_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def ready(self) -> list[Path]:
        """Image files ready to process, oldest first."""
        now = time.time()
        candidates = []
        for path in self.root.iterdir():
            name = path.name
            if (
                name.startswith(".")
                or path.suffix.lower() not in IMAGE_SUFFIXES
                or not path.is_file()
            ):
                continue
            mtime = path.stat().st_mtime
            if now - mtime >= self.settle_s:
                candidates.append((mtime, name, path))
        return [path for _, _, path in sorted(candidates)]

    def run_once(self) -> int:
        """Process every ready file; return how many were moved to done/ or failed/."""
        handled = 0
        files = self.ready()
        for start in range(0, len(files), self.batch_size):
            handled += self._process(files[start : start + self.batch_size])
        return handled

    def run(self, stop: threading.Event) -> int:
        """Process files as they arrive until `stop` is set; finish the batch in hand."""
        handled = 0
        while not stop.is_set():
            files = self.ready()[: self.batch_size]
            if files:
                handled += self._process(files)
            else:
                stop.wait(self.poll_interval_s)
        return handled

    def _process(self, paths: list[Path]) -> int:
        frames, described = [], []
        handled = 0
        for path in paths:
            try:
                info = describe(path)
                data = path.read_bytes()
            except FrameNameError as error:
                self._fail(path, str(error))
                handled += 1
                continue
            except FileNotFoundError:
                continue  # taken away meanwhile
            frames.append(
                FrameIn(
                    data=data,
                    station_id=info.station_id,
                    captured_at=info.captured_at,
                    parcel_id=info.parcel_id,
                    id=info.id,
                )
            )
            described.append(info)
        if not frames:
            return handled
        outcomes = self.worker.process(frames)
        for info, outcome in zip(described, outcomes, strict=True):
            handled += self._settle(info, outcome)
        return handled

    def _settle(self, info: FrameFile, outcome: Outcome) -> int:
        if outcome.ok:
            target = self.done_dir / info.captured_at.astimezone(UTC).strftime("%Y-%m-%d")
            self._move(info.path, target)
            return 1
        if isinstance(outcome.error, PredictionLogFull):
            log.warning("%s: prediction log full; will retry", info.path.name)
            return 0  # stays in place, tried again on the next pass
        self._fail(info.path, str(outcome.error))
        return 1

    def _fail(self, path: Path, reason: str) -> None:
        log.warning("%s: moved to failed/: %s", path.name, reason)
        moved = self._move(path, self.failed_dir)
        # The reason is written after the move: a crash between the two only loses the note.
        moved.with_name(moved.name + ".error.txt").write_text(reason + "\n")

    def _move(self, path: Path, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / path.name
        n = 1
        while target.exists():  # a camera that reuses names: keep both
            target = directory / f"{path.stem}.{n}{path.suffix}"
            n += 1
        path.replace(target)
        sidecar = path.with_suffix(".json")
        if sidecar.exists():
            sidecar.replace(target.with_suffix(".json"))
        return target
