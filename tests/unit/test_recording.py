"""The recording format: written by a thread, rotated, read back in order, damage tolerated."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from hftui.recording import Recorder, read_recording


def test_round_trip_in_order_with_rotation(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "rec", rotate_bytes=2000)
    frames = [
        (1_000 + k, "depth" if k % 2 else "trades", b'{"k":%d,"x":"a\\tb"}' % k) for k in range(300)
    ]
    for recv_ns, channel, payload in frames:
        recorder.write(recv_ns, channel, payload)
    recorder.close()
    assert recorder.lines == 300
    assert len(recorder.files) > 3  # rotated by size
    assert list(read_recording(tmp_path / "rec")) == frames


def test_damaged_files_and_lines_are_skipped(tmp_path: Path) -> None:
    directory = tmp_path / "rec"
    directory.mkdir()
    with gzip.open(directory / "frames-20260101T000000Z-0000.tsv.gz", "wb") as handle:
        handle.write(b"1\tdepth\t{}\nnot a line\n2\ttrades\t{}\n")
    whole = gzip.compress(b"3\tdepth\t{}\n4\tdepth\t{}\n")
    (directory / "frames-20260101T000000Z-0001.tsv.gz").write_bytes(whole[:-6])  # cut short
    lines = list(read_recording(directory))
    assert [t for t, _, _ in lines][:2] == [1, 2]


def test_no_recording_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no recording"):
        list(read_recording(tmp_path))


def test_rotation_by_age_keeps_every_line_in_order(tmp_path: Path) -> None:
    # The age is checked as lines are written: a file that has grown old is closed after
    # the line that found it so (a quiet market writes nothing, so it has nothing to rotate).
    recorder = Recorder(tmp_path / "rec", rotate_s=0.05)
    frames = []
    for k in range(3):
        frames.append((k, "depth", b'{"k":%d}' % k))
        recorder.write(*frames[-1])
        time.sleep(0.08)
    recorder.close()
    assert len(recorder.files) >= 2  # rotated by age (far below the size limit)
    assert all(p.exists() for p in recorder.files)
    assert list(read_recording(tmp_path / "rec")) == frames
