"""Logging: JSON lines written off the caller's thread, nothing lost at close, owner-only."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from hftui.logs import setup_logging


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("background", [True, False])
def test_every_record_reaches_the_file_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_restored: None, background: bool
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = setup_logging("unit", background=background)
    log = logging.getLogger("hftui.test")
    for n in range(500):
        log.info("order %d", n, extra={"client_id": f"m-x-{n}"})
    log.warning("last")
    for handler in list(logging.getLogger().handlers):
        handler.close()  # what logging.shutdown() does at exit: queued records are written
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["msg"] for line in lines] == [f"order {n}" for n in range(500)] + ["last"]
    assert lines[7]["client_id"] == "m-x-7"
    assert lines[-1]["level"] == "WARNING"
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_the_caller_does_not_format_or_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_restored: None
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    setup_logging("unit", background=True)
    seen: list[str] = []

    class Probe:
        def __str__(self) -> str:  # formatted where the message is built
            seen.append(threading.current_thread().name)
            return "probe"

    logging.getLogger("hftui.test").info("value %s", Probe())
    for handler in list(logging.getLogger().handlers):
        handler.close()
    assert seen
    assert threading.main_thread().name not in seen
