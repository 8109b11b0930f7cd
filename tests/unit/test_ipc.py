"""The seqlocked snapshot region: consistency under a concurrent writer, reader hygiene."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hftui.ipc import REGION_SIZE, RegionError, SnapshotReader, SnapshotWriter, TornReadError
from hftui.protocol import BOOK_DEPTH, MAX_SYMBOLS, TRADE_SLOTS


@pytest.fixture
def name() -> Iterator[str]:
    segment = f"hftui_test_{uuid.uuid4().hex[:12]}"
    yield segment
    # Never leak a segment, whatever the test did.
    path = f"/dev/shm/{segment}"
    if os.path.exists(path):
        os.unlink(path)


def test_round_trip_and_permissions(name: str) -> None:
    writer = SnapshotWriter(name)
    try:
        writer.begin_symbol(3)
        body = writer.symbol(3)
        body["symbol"] = b"ETHUSDT"
        body["bid_px"][:2] = [320001, 320000]
        body["n_bids"] = 2
        writer.end_symbol(3)
        reader = SnapshotReader(name)
        record = reader.symbol(3)
        assert record["symbol"] == b"ETHUSDT"
        assert list(record["bid_px"][:3]) == [320001, 320000, 0]
        assert reader.symbol_seq(3) == 2
        # The copy is detached from shared memory.
        writer.begin_symbol(3)
        writer.symbol(3)["n_bids"] = 0
        writer.end_symbol(3)
        assert record["n_bids"] == 2
        assert os.stat(f"/dev/shm/{name}").st_mode & 0o777 == 0o600
        reader.close()
    finally:
        writer.close()
    assert not os.path.exists(f"/dev/shm/{name}")


def test_reader_cannot_write(name: str) -> None:
    writer = SnapshotWriter(name)
    reader = SnapshotReader(name)
    try:
        with pytest.raises((ValueError, TypeError)):
            reader._symbols["seq"][0] = 99
    finally:
        reader.close()
        writer.close()


def test_missing_and_foreign_segments(name: str) -> None:
    with pytest.raises(RegionError, match="does not exist"):
        SnapshotReader(name)
    from multiprocessing import shared_memory

    foreign = shared_memory.SharedMemory(name=name, create=True, size=REGION_SIZE)
    try:
        with pytest.raises(RegionError, match="not an hftui snapshot region"):
            SnapshotReader(name)
    finally:
        foreign.close()
        foreign.unlink()


def test_block_left_mid_write_is_reported(name: str) -> None:
    writer = SnapshotWriter(name)
    reader = SnapshotReader(name)
    try:
        writer.begin_symbol(0)  # a writer that died here leaves the sequence odd
        with pytest.raises(TornReadError):
            reader.symbol(0, timeout_s=0.05)
        writer.end_symbol(0)
        reader.symbol(0)
    finally:
        reader.close()
        writer.close()


_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from hftui.ipc import SnapshotWriter
    w = SnapshotWriter(sys.argv[1])
    print("ready", flush=True)
    k = 0
    while k % 256 or not os.path.exists(sys.argv[2]):
        k += 1
        for i in range(2):
            w.begin_symbol(i)
            s = w.symbol(i)
            s["last_update_id"] = k
            s["bid_px"][:] = k
            s["ask_qty"][:] = k
            s["trade_px"][:] = k
            s["trade_time_ms"][:] = k
            w.end_symbol(i)
        time.sleep(0.00005)  # far faster than the engine's 50 Hz, but leaves the reader a gap
    w.close()
    """
)


def test_seqlock_consistent_under_concurrent_writer_process(name: str, tmp_path: Path) -> None:
    """Every copy a reader gets is from one write: all fields carry the same counter."""
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, name, str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        reader = SnapshotReader(name)
        seen: set[int] = set()
        last = [0, 0]
        for _ in range(2000):
            for i in range(2):
                record = reader.symbol(i)
                k = int(record["last_update_id"])
                for field in ("bid_px", "ask_qty", "trade_px", "trade_time_ms"):
                    assert np.all(record[field] == k), f"torn read: {field} vs {k}"
                assert k >= last[i], "went backwards"
                last[i] = k
                seen.add(k)
        reader.close()
        stop.touch()
        assert writer.wait(timeout=30) == 0
        # The reader must really have raced the writer, or the test proves nothing.
        assert len(seen) > 50, f"only {len(seen)} distinct versions seen in 4000 reads"
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


def test_reader_process_exit_does_not_unlink(name: str) -> None:
    """Python 3.11's resource tracker must not remove the engine's segment after a reader."""
    writer = SnapshotWriter(name)
    try:
        code = (
            "import sys; from hftui.ipc import SnapshotReader; "
            "r = SnapshotReader(sys.argv[1]); r.header(); r.close()"
        )
        subprocess.run([sys.executable, "-c", code, name], check=True, timeout=30)
        assert os.path.exists(f"/dev/shm/{name}")
        SnapshotReader(name).close()
    finally:
        writer.close()


def test_layout_fits_expectations() -> None:
    assert MAX_SYMBOLS >= 2
    assert BOOK_DEPTH == 20
    assert TRADE_SLOTS >= 32
    assert REGION_SIZE % 64 == 0
