"""The kill latch on a real file system: it survives a restart, fails safe on a damaged file,
is replaced atomically (a process killed mid-write leaves the old latch whole), is owner-only,
and holds in memory when the disk will not take it."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

import hftui.engine.kill_switch as kill_switch_module
from hftui.engine.kill_switch import KillLatchError, KillState, KillSwitch, latch_path

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    return state / "main.kill.json"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask, so only the code's own choice of mode can protect the file."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def on_disk(path: Path) -> dict[str, object]:
    doc = orjson.loads(path.read_bytes())
    assert isinstance(doc, dict)
    return doc


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- the latch survives a restart ----------------------------------------------------------


def test_a_fresh_latch_is_armed_and_writes_nothing(path: Path) -> None:
    switch = KillSwitch(path)
    assert not switch.killed
    assert switch.state == KillState()
    assert switch.rearm() is False
    assert not path.exists()


def test_fire_survives_a_restart_with_reason_time_and_flatten(path: Path) -> None:
    before = time.time_ns()
    switch = KillSwitch(path)
    assert switch.fire("daily loss limit reached", flatten=True) is True
    after = time.time_ns()
    assert switch.killed
    assert switch.save_error == ""

    restarted = KillSwitch(path)
    assert restarted.killed
    assert restarted.state == switch.state
    assert restarted.state.reason == "daily loss limit reached"
    assert restarted.state.flatten is True
    assert before <= restarted.state.at_ns <= after
    assert on_disk(path) == {
        "killed": True,
        "at_ns": switch.state.at_ns,
        "reason": "daily loss limit reached",
        "flatten": True,
    }


def test_firing_again_keeps_the_newest_reason(path: Path) -> None:
    switch = KillSwitch(path)
    switch.fire("first", flatten=True)
    switch.fire("second", flatten=False)
    restarted = KillSwitch(path)
    assert restarted.state.reason == "second"
    assert restarted.state.flatten is False


def test_a_long_reason_is_cut_to_200_characters(path: Path) -> None:
    KillSwitch(path).fire("x" * 10_000, flatten=False)
    assert KillSwitch(path).state.reason == "x" * 200


def test_rearm_clears_the_latch_and_persists(path: Path) -> None:
    switch = KillSwitch(path)
    switch.fire("kill switch", flatten=False)
    assert switch.rearm() is True
    assert not switch.killed
    assert switch.rearm() is False  # nothing left to clear
    restarted = KillSwitch(path)
    assert not restarted.killed
    assert restarted.state == KillState()
    assert on_disk(path) == {"killed": False, "at_ns": 0, "reason": "", "flatten": False}


def test_latch_path_is_in_the_private_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    found = latch_path("desk-2")
    assert found == tmp_path / "hftui" / "state" / "desk-2.kill.json"
    assert mode_of(found.parent) == 0o700


# ---- a damaged latch fails safe ------------------------------------------------------------

GOOD = orjson.dumps(
    {"killed": True, "at_ns": 1_700_000_000_000_000_000, "reason": "r", "flatten": False}
)


@pytest.mark.parametrize(
    "body",
    [
        b"",  # truncated to nothing
        GOOD[: len(GOOD) // 2],  # torn mid-write
        b"\x00" * 64,  # a block of zeros, as some file systems leave after a crash
        b"\xff\xfe garbage \x81",
        b"null",
        b"[]",
        b'"killed"',
        b"{}",
        b'{"killed": false}',  # fields missing
        b'{"killed": null, "at_ns": 0, "reason": "", "flatten": false}',
        b'{"killed": 0, "at_ns": 0, "reason": "", "flatten": false}',
        b'{"killed": "false", "at_ns": 0, "reason": "", "flatten": false}',
        b'{"killed": false, "at_ns": "0", "reason": "", "flatten": false}',
        b'{"killed": false, "at_ns": -1, "reason": "", "flatten": false}',
        b'{"killed": false, "at_ns": false, "reason": "", "flatten": false}',
        b'{"killed": false, "at_ns": 0, "reason": 7, "flatten": false}',
        b'{"killed": false, "at_ns": 0, "reason": "", "flatten": null}',
    ],
)
def test_a_damaged_latch_file_counts_as_killed_and_says_why(
    path: Path, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path.write_bytes(body)
    with caplog.at_level(logging.ERROR, logger=kill_switch_module.__name__):
        switch = KillSwitch(path)
    assert switch.killed
    assert switch.state.reason.startswith(f"latch file {path} unreadable: ")
    assert switch.state.at_ns > 0
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "staying killed" in record.getMessage()
    assert str(path) in record.__dict__["error"]
    # Only an explicit re-arm clears it, and that writes a good file.
    assert switch.rearm() is True
    assert not KillSwitch(path).killed


def test_an_unreadable_latch_path_counts_as_killed(path: Path) -> None:
    path.mkdir()  # something is there, but it is not a latch file
    switch = KillSwitch(path)
    assert switch.killed
    assert "unreadable" in switch.state.reason


def test_a_well_formed_armed_file_reads_as_armed(path: Path) -> None:
    path.write_bytes(b'{"killed": false, "at_ns": 0, "reason": "", "flatten": false}')
    assert not KillSwitch(path).killed


# ---- atomic, durable, owner-only -----------------------------------------------------------

CRASH_MID_WRITE = """
import os, sys
from pathlib import Path
import hftui.engine.kill_switch as ks

real_write = os.write
def half_then_die(fd, data):
    real_write(fd, bytes(data)[: len(data) // 2])
    os._exit(9)  # the process dies here: no cleanup, no finally blocks

ks.os.write = half_then_die
ks.KillSwitch(Path(sys.argv[1])).fire("second, never finished", flatten=True)
"""


def test_a_process_killed_mid_write_leaves_the_old_latch_whole(path: Path) -> None:
    switch = KillSwitch(path)
    switch.fire("first", flatten=False)
    before = path.read_bytes()

    done = subprocess.run(
        [sys.executable, "-c", CRASH_MID_WRITE, str(path)], capture_output=True, check=False
    )
    assert done.returncode == 9, done.stderr

    assert path.read_bytes() == before
    restarted = KillSwitch(path)
    assert restarted.state == switch.state  # "first", not a fail-safe "unreadable"
    # The half-written temporary file is left behind and is not the latch.
    leftovers = [p for p in path.parent.iterdir() if p != path]
    assert len(leftovers) == 1
    assert leftovers[0].stat().st_size < len(before) + len("second, never finished")

    # The next write goes through in spite of the leftover.
    restarted.fire("third", flatten=False)
    assert KillSwitch(path).state.reason == "third"


@pytest.mark.parametrize("fails", ["write", "fsync", "replace"])
def test_a_failed_write_keeps_the_old_latch_and_cleans_up(
    path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    switch = KillSwitch(path)
    switch.fire("first", flatten=False)
    before = path.read_bytes()

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, fails, no_space)
    assert switch.fire("second", flatten=True) is False
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert sorted(path.parent.iterdir()) == [path]  # the temporary file is removed
    assert switch.killed
    assert switch.state.reason == "second"  # the newest kill holds in memory
    assert "No space left on device" in switch.save_error


def test_the_file_is_synced_before_it_replaces_the_latch(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        calls.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        # At the moment of the swap the new content is complete in the temporary file.
        assert orjson.loads(Path(src).read_bytes())["reason"] == "synced"
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    KillSwitch(path).fire("synced", flatten=False)
    assert calls == ["fsync file", "replace", "fsync dir"]


@pytest.mark.usefixtures("open_umask")
def test_the_latch_is_owner_only_whatever_the_umask(path: Path) -> None:
    switch = KillSwitch(path)
    switch.fire("kill", flatten=False)
    assert mode_of(path) == 0o600
    switch.rearm()
    assert mode_of(path) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_the_latch_is_owner_only_after_a_leftover_or_a_loose_old_file(path: Path) -> None:
    # A world-readable latch (restored from a backup, say) and a leftover temporary file
    # from a crash: neither may lend its mode to the new latch.
    path.write_bytes(b'{"killed": false, "at_ns": 0, "reason": "", "flatten": false}')
    path.chmod(0o644)
    for name in (path.name + ".tmp", path.with_suffix(".tmp").name):
        leftover = path.parent / name
        leftover.write_bytes(b"{")
        leftover.chmod(0o666)
    KillSwitch(path).fire("kill", flatten=False)
    assert mode_of(path) == 0o600


# ---- the disk will not take it -------------------------------------------------------------

UnwritableDir = Callable[[Path], None]


def gone(path: Path) -> None:
    """The state dir replaced by a regular file: ENOTDIR, which even root cannot write past."""
    for child in path.parent.iterdir():
        child.unlink()
    path.parent.rmdir()
    path.parent.write_bytes(b"")


def read_only(path: Path) -> None:
    path.parent.chmod(0o500)


@pytest.fixture(
    params=[
        gone,
        pytest.param(
            read_only,
            marks=pytest.mark.skipif(IS_ROOT, reason="root writes into read-only dirs"),
        ),
    ]
)
def make_unwritable(request: pytest.FixtureRequest, path: Path) -> Iterator[UnwritableDir]:
    yield request.param
    if path.parent.is_dir():
        path.parent.chmod(0o700)  # let pytest clean up


def test_an_unwritable_state_dir_keeps_the_kill_in_memory_and_says_so(
    path: Path, make_unwritable: UnwritableDir, caplog: pytest.LogCaptureFixture
) -> None:
    switch = KillSwitch(path)
    make_unwritable(path)
    with caplog.at_level(logging.WARNING, logger=kill_switch_module.__name__):
        persisted = switch.fire("kill switch", flatten=True)
    # No exception: the caller is mid-kill and must go on cancelling.
    assert persisted is False
    assert switch.killed
    assert switch.state.reason == "kill switch"
    assert switch.save_error.startswith(f"cannot persist the kill latch to {path}: ")
    assert "a restart would come back armed" in switch.save_error
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    assert critical[0].__dict__["error"] == switch.save_error


def test_a_rearm_that_cannot_be_written_leaves_the_engine_killed(
    path: Path, make_unwritable: UnwritableDir
) -> None:
    switch = KillSwitch(path)
    switch.fire("kill switch", flatten=False)
    make_unwritable(path)
    with pytest.raises(KillLatchError, match=f"cannot persist the kill latch to {path}"):
        switch.rearm()
    # Memory matches what a restart would read: still killed.
    assert switch.killed
    assert switch.state.reason == "kill switch"


def test_a_write_that_works_again_clears_the_save_error(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    switch = KillSwitch(path)

    def denied(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    assert switch.fire("first", flatten=False) is False
    assert "Permission denied" in switch.save_error
    monkeypatch.undo()
    assert switch.fire("second", flatten=False) is True
    assert switch.save_error == ""
    assert KillSwitch(path).state.reason == "second"
