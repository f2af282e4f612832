"""The prediction log's write-ahead spool: append-only segment files of COPY lines.

Every accepted record is written here by the caller's thread (one `write()` into the page
cache, a few microseconds) before `log()` returns, so a process killed with SIGKILL loses
nothing it accepted; the writer thread fsyncs on a timer and whenever the database fails,
which bounds what a power loss could take. The writer reads batches back in order, and a
segment file is deleted only after every row in it has committed. A restarted process
finds the old segments and replays them first; the database's primary key on the
client-made id turns a replay of already-committed rows into a no-op.

One process owns a spool directory (an exclusive `flock`); the spool's size is the log's
bound: past `max_bytes` of uncommitted data, `append` raises SpoolFull.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.core.exceptions import BeltwatchError, SpoolLocked

log = logging.getLogger(__name__)

SUFFIX = ".seg"


class SpoolFull(BeltwatchError):
    """The spool holds `max_bytes` of uncommitted rows already."""


class SpoolWriteError(BeltwatchError):
    """The disk refused a write (full, read-only, I/O error); nothing was appended."""


@dataclass
class _Segment:
    seq: int
    path: Path
    size: int = 0
    rows: int = 0
    # Byte offsets that end every `batch_rows`-th row: where the reader cuts batches.
    cuts: list[int] = field(default_factory=list)
    read_fd: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A run of whole lines of one segment, as the writer sends it in one transaction."""

    seq: int
    start: int
    end: int
    rows: int
    data: bytes


class Spool:
    """Append-only, crash-safe FIFO of lines on local disk, for one writer and one reader."""

    def __init__(
        self, directory: Path, *, batch_rows: int, segment_max_bytes: int, max_bytes: int
    ) -> None:
        self.directory = directory
        self._batch_rows = batch_rows
        self._segment_max = segment_max_bytes
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolLocked(str(directory)) from None

        self._segments = [self._recover(path) for path in sorted(directory.glob("*" + SUFFIX))]
        self.recovered_rows = sum(segment.rows for segment in self._segments)
        self.pending_bytes = sum(segment.size for segment in self._segments)
        self.pending_rows = self.recovered_rows
        self.appended = 0  # rows appended by this process
        self._read_offset = 0
        self._unsynced: list[int] = []
        next_seq = self._segments[-1].seq + 1 if self._segments else 1
        self._open_segment(next_seq)

    # -- the caller's side -------------------------------------------------------------

    def append(self, line: bytes) -> int:
        """Append one line; return the number of rows now pending. Thread-safe."""
        with self._lock:
            if self.pending_bytes + len(line) > self._max_bytes:
                raise SpoolFull(f"spool holds {self.pending_bytes} bytes (max {self._max_bytes})")
            segment = self._write
            try:
                written = os.write(self._write_fd, line)
            except OSError as error:
                self._undo_partial(segment)
                raise SpoolWriteError(f"{segment.path}: {error.strerror}") from error
            if written != len(line):  # short write: the disk filled up mid-line
                self._undo_partial(segment)
                raise SpoolWriteError(f"{segment.path}: short write (disk full?)")
            segment.size += written
            segment.rows += 1
            if segment.rows % self._batch_rows == 0:
                segment.cuts.append(segment.size)
            self.pending_bytes += written
            self.pending_rows += 1
            self.appended += 1
            if segment.size >= self._segment_max:
                self._rotate()
            return self.pending_rows

    # -- the writer thread's side ------------------------------------------------------

    def read(self) -> Chunk | None:
        """The next batch of uncommitted lines (at most `batch_rows`), or None if none."""
        with self._lock:
            while True:
                segment = self._segments[0]
                if self._read_offset < segment.size:
                    break
                if segment is self._write:
                    return None
                self._drop_oldest()  # fully committed (or empty) older segment
            start = self._read_offset
            end = next((cut for cut in segment.cuts if cut > start), segment.size)
            if segment.read_fd is None:
                segment.read_fd = os.open(segment.path, os.O_RDONLY)
            fd = segment.read_fd
        data = os.pread(fd, end - start, start)  # the bytes are immutable once written
        return Chunk(segment.seq, start, end, data.count(b"\n"), data)

    def commit(self, chunk: Chunk) -> None:
        """Mark `chunk` as stored in the database; delete segments that are all stored."""
        with self._lock:
            segment = self._segments[0]
            assert segment.seq == chunk.seq and self._read_offset == chunk.start
            self._read_offset = chunk.end
            self.pending_bytes -= chunk.end - chunk.start
            self.pending_rows -= chunk.rows
            if segment is not self._write and self._read_offset >= segment.size:
                self._drop_oldest()

    def sync(self) -> None:
        """fsync everything appended so far (the writer calls this; never the hot path)."""
        with self._lock:
            fds, self._unsynced = self._unsynced, []
            current = self._write_fd
            sync_dir, self._dir_unsynced = self._dir_unsynced, False
        for fd in fds:
            os.fsync(fd)
            os.close(fd)
        os.fsync(current)
        if sync_dir:
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def close(self, *, remove_empty: bool = True) -> None:
        """Release the directory; with nothing pending, remove the segment files."""
        self.sync()
        with self._lock:
            os.close(self._write_fd)
            for segment in self._segments:
                if segment.read_fd is not None:
                    os.close(segment.read_fd)
            if remove_empty and self.pending_rows == 0:
                for segment in self._segments:
                    segment.path.unlink(missing_ok=True)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    # -- internals ---------------------------------------------------------------------

    def _recover(self, path: Path) -> _Segment:
        """Index a segment left by an earlier process; cut off a torn last line."""
        data = path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            # Only a power loss or a full disk leaves a partial line: it was never accepted.
            log.warning(
                "spool %s: dropping %d bytes of a torn last line", path, len(data) - complete
            )
            with open(path, "r+b") as handle:
                handle.truncate(complete)
                os.fsync(handle.fileno())
        ends = np.flatnonzero(np.frombuffer(data[:complete], dtype=np.uint8) == 10) + 1
        cuts = ends[self._batch_rows - 1 :: self._batch_rows].tolist()
        return _Segment(int(path.stem), path, size=complete, rows=len(ends), cuts=cuts)

    def _open_segment(self, seq: int) -> None:
        path = self.directory / f"{seq:016d}{SUFFIX}"
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._write = _Segment(seq, path)
        self._segments.append(self._write)
        self._dir_unsynced = True  # sync() makes the new name survive a power loss

    def _rotate(self) -> None:
        # The fsyncs (full segment, directory) are left to the writer thread: never here.
        self._unsynced.append(self._write_fd)
        self._open_segment(self._write.seq + 1)

    def _drop_oldest(self) -> None:
        segment = self._segments.pop(0)
        self._read_offset = 0
        if segment.read_fd is not None:
            os.close(segment.read_fd)
        segment.path.unlink(missing_ok=True)

    def _undo_partial(self, segment: _Segment) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self._write_fd, segment.size)
