"""Instance files: found while the engine lives, cleaned with its segment after a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hftui.instance import find_running, pid_alive, remove_instance, write_instance
from hftui.ipc import SnapshotWriter


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    return tmp_path


def test_running_instance_is_found_and_removed() -> None:
    path = write_instance("t1", os.getpid(), "seg", 123, "local", "http://127.0.0.1:1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    info = find_running("t1")
    assert info is not None
    assert info.pid == os.getpid()
    assert info.shm == "seg"
    remove_instance("t1", os.getpid() + 1)  # someone else's: left alone
    assert find_running("t1") is not None
    remove_instance("t1", os.getpid())
    assert find_running("t1") is None


def test_dead_engine_leaves_nothing_behind() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not pid_alive(dead.pid)
    writer = SnapshotWriter(f"hftui_t2_{dead.pid}_snap")
    writer.close(unlink=False)  # as if the engine was killed with the segment still there
    assert os.path.exists(f"/dev/shm/{writer.name}")
    path = write_instance("t2", dead.pid, writer.name, 1, "local", "")
    assert find_running("t2") is None
    assert not path.exists()
    assert not os.path.exists(f"/dev/shm/{writer.name}")


def test_garbage_instance_file_is_treated_as_stale(data_home: Path) -> None:
    run = data_home / "hftui" / "run"
    run.mkdir(parents=True)
    (run / "t3.json").write_bytes(b"{not json")
    assert find_running("t3") is None
    assert not (run / "t3.json").exists()
