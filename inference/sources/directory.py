"""The directory source: cameras (or a gateway) drop image files into a folder.

Where a frame's facts come from, first match wins:
- a sidecar beside the image: `<name>.json` (`IMG_0001.jpg.json`), else `<stem>.json`
  (`IMG_0001.json`); with both, `<name>.json` wins (it names one image, a stem may be shared
  by `x.jpg` and `x.png`). It holds {"station_id": ..., "parcel_id": ...,
  "captured_at": "2026-11-25T08:15:30.120Z"} (parcel_id and captured_at optional; any
  station id the prediction log accepts);
- the file name `STATION__PARCEL__20261125T081530.120Z.jpg`: parts separated by a double
  underscore; the parcel and the time are optional (`STATION__20261125T081530Z.png`,
  `STATION__PARCEL.jpg`, a bare `STATION.jpg`). A station id from a name is letters,
  digits, `_`, `.` and `-`, starting with a letter or digit, up to 128 characters (the
  simulator's rule), and not a time: a stray `Screenshot (2).png` or `20261125T081530Z.jpg`
  is refused rather than becoming a station. Without a time, the file's modification time
  is the capture time; without a parcel, the frame has none.

Writers should write to a hidden or `.tmp`/`.part` name and rename when done; files younger
than `settle_s` are left alone too, in case they are still being copied. A processed image
moves to `done/<UTC date>/`, a refused one to `failed/` beside `<name>.error.txt` saying
why, each with its sidecars (a `<stem>.json` that another image still needs is copied): any
file, whatever its name or content (an impossible date, a name or sidecar that is not UTF-8,
a capture time outside the retention window), so that one poison file cannot stop the
folder, on this pass or after a restart. Each file's prediction id is derived from its
name, size and modification time, so a restart after a crash between logging and moving
stores no duplicate (a critical parcel's divert call may then be repeated: at least once is
the safe side for a divert).
"""

from __future__ import annotations

import glob
import json
import logging
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from inference.capture import CaptureWindow
from inference.logsafe import Throttle, shown
from inference.worker import FrameIn, Outcome, Worker
from monitor.core.exceptions import BeltwatchError, InvalidRecord, PredictionLogFull
from monitor.core.vocabulary import STATION_NAME

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
NAMING = "STATION[__PARCEL][__20261125T081530.120Z]"
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


@dataclass
class Tally:
    """Files moved: to done/ (logged) and to failed/ (refused, with a note saying why); and
    files held back in place because the prediction log was full (tried again later)."""

    done: int = 0
    failed: int = 0
    held: int = 0

    @property
    def total(self) -> int:
        """Files moved (held-back files stay where they are)."""
        return self.done + self.failed

    def add(self, other: Tally) -> None:
        self.done += other.done
        self.failed += other.failed
        self.held += other.held

    def summary(self) -> str:
        """`processed 10 frames: 9 done, 1 failed (moved to failed/)`, and how many wait in
        the folder when the log was full."""
        frames = "frame" if self.total == 1 else "frames"
        moved = " (moved to failed/)" if self.failed else ""
        line = f"processed {self.total} {frames}: {self.done} done, {self.failed} failed{moved}"
        if self.held:
            line += f"; {self.held} held back in the folder: the prediction log was full"
        return line


def _parse_time(text: str) -> datetime:
    match = _TIME.match(text)
    if not match:
        raise FrameNameError(f"not a time of the form 20261125T081530.120Z: {text!r}")
    try:
        stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:  # the right shape, an impossible date: month 13, hour 25
        raise FrameNameError(f"not a valid date and time: {text!r}") from None
    micros = int((match.group(2) or "0").ljust(6, "0"))
    return stamp.replace(microsecond=micros)


def sidecars(path: Path) -> list[Path]:
    """The sidecars of image `path` that exist, the one that wins first: `<name>.json`,
    then `<stem>.json`."""
    candidates = (path.with_name(path.name + ".json"), path.with_suffix(".json"))
    return [candidate for candidate in candidates if candidate.is_file()]


def describe(path: Path) -> FrameFile:
    """The station, parcel and capture time of an image file (sidecar first, then name)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:  # os.listdir gives undecodable bytes as surrogates
        raise FrameNameError(
            f"{shown(path.name)}: the file name is not UTF-8; name files in UTF-8"
        ) from None
    stat = path.stat()
    mtime = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC)
    found = sidecars(path)
    if found:
        station, parcel, captured = _from_sidecar(found[0], mtime)
    else:
        station, parcel, captured = _from_name(path, mtime)
    key = f"{station}|{path.name}|{stat.st_size}|{stat.st_mtime_ns}"
    return FrameFile(path, station, parcel, captured, uuid.uuid5(_NAMESPACE, key))


def _from_sidecar(sidecar: Path, mtime: datetime) -> tuple[str, str | None, datetime]:
    try:
        facts = json.loads(sidecar.read_text(encoding="utf-8"))
        station = facts["station_id"]
        parcel = facts.get("parcel_id")
        raw_time = facts.get("captured_at")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        # ValueError covers bad JSON and bytes that are not UTF-8.
        raise FrameNameError(
            f"sidecar {sidecar.name} unreadable or without station_id: {error}"
        ) from None
    if not isinstance(station, str) or not isinstance(parcel, str | None):
        raise FrameNameError(f"sidecar {sidecar.name}: station_id and parcel_id are text")
    try:
        captured = datetime.fromisoformat(raw_time.replace("Z", "+00:00")) if raw_time else mtime
    except (ValueError, AttributeError):
        raise FrameNameError(
            f"sidecar {sidecar.name}: captured_at {raw_time!r} is not ISO 8601"
        ) from None
    if captured.tzinfo is None:
        raise FrameNameError(f"sidecar {sidecar.name}: captured_at needs a time zone")
    return station, parcel, captured


def _from_name(path: Path, mtime: datetime) -> tuple[str, str | None, datetime]:
    station, *rest = path.stem.split("__")
    advice = f"name it {NAMING}{path.suffix} or add a sidecar {path.name}.json"
    if not station:
        raise FrameNameError(f"{path.name}: no station id; {advice}")
    if _TIME.match(station):
        raise FrameNameError(f"{path.name}: {station!r} is a time, not a station id; {advice}")
    if not STATION_NAME.fullmatch(station):
        raise FrameNameError(
            f"{path.name}: {station!r} is not a station id (letters, digits, '_', '.', '-', "
            f"starting with a letter or digit; up to 128); {advice}"
        )
    captured = mtime
    if rest and _TIME.match(rest[-1]):
        captured = _parse_time(rest.pop())
    if len(rest) > 1:
        raise FrameNameError(f"{path.name}: too many '__' parts; expected {NAMING}")
    return station, (rest[0] or None) if rest else None, captured


class DirectorySource:
    """Feeds the files of one folder to a worker, moving each to done/ or failed/."""

    def __init__(
        self,
        root: Path,
        worker: Worker,
        *,
        window: CaptureWindow,
        batch_size: int = 8,
        in_flight: int = 1,
        settle_s: float = 1.0,
        poll_interval_s: float = 0.2,
    ) -> None:
        self.root = root
        self.worker = worker
        self.window = window
        self._throttle = Throttle(log)
        self.batch_size = batch_size
        self.in_flight = max(1, in_flight)
        # One file move at a time: two images sharing a stem sidecar (x.jpg, x.png) may be
        # in two batches, and each move decides whether to copy or move that sidecar.
        self._moving = threading.Lock()
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
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # taken away meanwhile
            if now - mtime >= self.settle_s:
                candidates.append((mtime, name, path))
        return [path for _, _, path in sorted(candidates)]

    def run_once(self) -> Tally:
        """Process every ready file; say how many moved to done/ and to failed/ (and how
        many wait in the folder, if the prediction log was full)."""
        return self._pass(self.ready(), threading.Event())

    def run(self, stop: threading.Event) -> Tally:
        """Process files as they arrive until `stop` is set; finish the batches in hand."""
        tally = Tally()
        while not stop.is_set():
            moved = self._pass(self.ready(), stop)
            tally.add(moved)
            if not moved.total:  # nothing new, or files held back while the log is full
                stop.wait(self.poll_interval_s)
        return tally

    def _pass(self, files: list[Path], stop: threading.Event) -> Tally:
        """Process one listing, oldest first, in batches of `batch_size`, up to `in_flight`
        batches at once: while one batch is in the model, the next is decoded, so every
        core works. The folder is listed once per pass, not once per batch (a backlog of
        100,000 files would otherwise be listed and stat-ed for every 8 of them). The pass
        ends early when `stop` is set (the batches in hand are finished) or when the log
        was full (what is left waits for the next pass instead of being decoded and run
        through the model only to be held back)."""
        tally = Tally()
        if not files:
            return tally
        batches = [files[i : i + self.batch_size] for i in range(0, len(files), self.batch_size)]
        pending: set[Future[Tally]] = set()
        with ThreadPoolExecutor(self.in_flight, thread_name_prefix="dir-batch") as pool:
            for batch in batches:
                while len(pending) >= self.in_flight:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        tally.add(future.result())
                if stop.is_set() or tally.held:
                    break
                pending.add(pool.submit(self._process, batch))
            for future in pending:
                tally.add(future.result())
        return tally

    def _process(self, paths: list[Path]) -> Tally:
        frames, described = [], []
        tally = Tally()
        for path in paths:
            try:
                info = describe(path)
                self.window.check(info.captured_at)
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # taken away meanwhile
            except (FrameNameError, InvalidRecord) as error:
                tally.failed += self._fail(path, str(error))
                continue
            except Exception as error:  # whatever a file holds, it must not stop the folder
                reason = f"could not be read: {type(error).__name__}: {error}"
                tally.failed += self._fail(path, reason)
                continue
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
            return tally
        outcomes = self.worker.process(frames)
        for info, outcome in zip(described, outcomes, strict=True):
            tally.add(self._settle(info, outcome))
        return tally

    def _settle(self, info: FrameFile, outcome: Outcome) -> Tally:
        if outcome.ok:
            target = self.done_dir / info.captured_at.astimezone(UTC).strftime("%Y-%m-%d")
            self._move(info.path, target)
            return Tally(done=1)
        if isinstance(outcome.error, PredictionLogFull):
            self._throttle.warning(
                "full", "%s: prediction log full; will retry", shown(info.path.name)
            )
            return Tally(held=1)  # stays in place, tried again on the next pass
        return Tally(failed=self._fail(info.path, str(outcome.error)))

    def _fail(self, path: Path, reason: str) -> int:
        """Move `path` to failed/ with a note saying why; 1 if moved, 0 if it could not be."""
        self._throttle.warning(
            "failed", "%s: moved to failed/: %s", shown(path.name), shown(reason)
        )
        try:
            moved = self._move(path, self.failed_dir)
        except FileNotFoundError:
            return 0
        except OSError as error:  # a read-only folder: nothing to do but say so
            self._throttle.warning("move", "%s: cannot move: %s", shown(path.name), error)
            return 0
        # The reason is written after the move: a crash between the two only loses the note.
        note = moved.with_name(moved.name + ".error.txt")
        try:
            note.write_text(reason + "\n", encoding="utf-8", errors="backslashreplace")
        except OSError as error:  # a name at the length limit has no room for the suffix
            log.warning("%s: reason not written: %s", shown(moved.name), error)
        return 1

    def _move(self, path: Path, directory: Path) -> Path:
        """Move image `path` and its sidecars into `directory`; the image's new path."""
        with self._moving:
            return self._move_now(path, directory)

    def _move_now(self, path: Path, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        present = [side.exists() for side in _sidecar_names(path)]

        def taken(target: Path) -> bool:
            sides = zip(_sidecar_names(target), present, strict=True)
            return target.exists() or any(side.exists() for side, moves in sides if moves)

        target = directory / path.name
        n = 1
        while taken(target):  # a camera that reuses names: keep both
            target = directory / f"{path.stem}.{n}{path.suffix}"
            n += 1
        path.replace(target)
        (named, stem), (named_to, stem_to) = _sidecar_names(path), _sidecar_names(target)
        if present[0]:
            named.replace(named_to)
        if present[1]:
            if _stem_shared(path):  # x.png still needs the x.json it shares with x.jpg
                shutil.copy2(stem, stem_to)
            else:
                stem.replace(stem_to)
        return target


def _sidecar_names(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".json"), path.with_suffix(".json")


def _stem_shared(path: Path) -> bool:
    """Whether another image in the folder has the stem of `path` (and so its sidecar)."""
    return any(
        other.suffix.lower() in IMAGE_SUFFIXES
        for other in path.parent.glob(glob.escape(path.stem) + ".*")
        if other.stem == path.stem and other != path
    )
