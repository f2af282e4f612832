"""The spool on its own: order, batching, segments, recovery after a crash."""

from __future__ import annotations

import os

import pytest

from monitor.core.exceptions import SpoolLocked
from monitor.predlog.spool import Spool, SpoolFull


def lines(n: int, start: int = 0) -> list[bytes]:
    return [f"row-{i:06d}\tpayload\n".encode() for i in range(start, start + n)]


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (chunk := spool.read()) is not None:
        out.extend(chunk.data.splitlines(keepends=True))
        spool.commit(chunk)
    return out


def open_spool(path, **kwargs) -> Spool:
    options = {"batch_rows": 10, "segment_max_bytes": 1000, "max_bytes": 10**7}
    options.update(kwargs)
    return Spool(path, **options)


def test_lines_come_back_in_order_in_batches_of_at_most_batch_rows(tmp_path) -> None:
    spool = open_spool(tmp_path)
    sent = lines(95)
    for line in sent:
        spool.append(line)
    chunks = []
    while (chunk := spool.read()) is not None:
        chunks.append(chunk)
        spool.commit(chunk)
    assert b"".join(c.data for c in chunks) == b"".join(sent)
    assert max(c.rows for c in chunks) <= 10
    assert spool.pending_rows == 0 and spool.pending_bytes == 0
    spool.close()


def test_committed_segments_are_deleted_and_the_rest_kept(tmp_path) -> None:
    spool = open_spool(tmp_path, segment_max_bytes=200)
    for line in lines(40):
        spool.append(line)
    assert len(list(tmp_path.glob("*.seg"))) > 3
    drain(spool)
    assert len(list(tmp_path.glob("*.seg"))) == 1  # only the segment being written
    spool.close()
    assert list(tmp_path.glob("*.seg")) == []


def test_a_new_spool_replays_what_a_dead_one_left_in_order(tmp_path) -> None:
    first = open_spool(tmp_path, segment_max_bytes=300)
    for line in lines(50):
        first.append(line)
    chunk = first.read()
    assert chunk is not None
    first.commit(chunk)  # the first 10 rows reached the database
    # The process dies here, without close(): the kernel would drop its lock.
    os.close(first._lock_fd)
    second = open_spool(tmp_path)
    assert second.recovered_rows >= 40  # whole uncommitted segments, perhaps a few committed
    second.append(lines(1, start=50)[0])
    replayed = drain(second)
    assert replayed[-41:] == lines(41, start=10)
    second.close()


def test_torn_last_line_is_cut_off_on_recovery(tmp_path) -> None:
    (tmp_path / "0000000000000001.seg").write_bytes(b"".join(lines(3)) + b"row-000003\tpart")
    spool = open_spool(tmp_path)
    assert spool.recovered_rows == 3
    assert drain(spool) == lines(3)
    spool.close()


def test_full_spool_refuses_and_nothing_half_written(tmp_path) -> None:
    spool = open_spool(tmp_path, max_bytes=100)
    accepted = 0
    with pytest.raises(SpoolFull):
        for line in lines(100):
            spool.append(line)
            accepted += 1
    assert drain(spool) == lines(accepted)
    spool.append(lines(1)[0])  # room again once committed
    spool.close()


def test_second_owner_of_a_directory_is_refused(tmp_path) -> None:
    spool = open_spool(tmp_path)
    with pytest.raises(SpoolLocked):
        open_spool(tmp_path)
    spool.close()
    open_spool(tmp_path).close()
