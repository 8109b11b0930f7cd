"""Log lines caused by a command carry its command-ring request id: the ones written while the
engine handles it and the ones from tasks it started, and no others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from hftui.config import Config
from hftui.engine.control import Controller
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.kill_switch import KillSwitch
from hftui.exchange.symbols import exchange_info
from hftui.logs import setup_logging
from hftui.protocol import CommandAnswered, Event, Kill, OrderType, PlaceOrder, Side
from hftui.rings import CommandReceiver, CommandSender

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT",), 0), ["BTCUSDT"])


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


@pytest.fixture
def ring_name() -> Iterator[str]:
    name = f"hftui_test_{uuid.uuid4().hex[:10]}_cmd"
    yield name
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"/dev/shm/{name}")


async def test_a_commands_log_lines_carry_its_request_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_restored: None, ring_name: str
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    # The kill looks for keys: a throwaway file keyring, never the machine's.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    path = setup_logging("unit", level="DEBUG", background=True)
    events: list[Event] = []
    config = Config()
    execution = Execution(config, INSTRUMENTS, events.append)
    controller = Controller(config, execution, KillSwitch(tmp_path / "kill.json"), events.append)
    receiver = CommandReceiver(ring_name)
    sender = CommandSender(ring_name, tmp_path / "ring.lock")
    serving = asyncio.create_task(controller.serve(receiver))
    try:
        place = sender.send(PlaceOrder("BTCUSDT", Side.BUY, "0.010", "60000.0", OrderType.LIMIT))
        kill = sender.send(Kill(flatten=False))
        for _ in range(200):
            answered = {e.request_id for e in events if isinstance(e, CommandAnswered)}
            if {place, kill} <= answered:
                break
            await asyncio.sleep(0.01)
        assert {place, kill} <= answered
        logging.getLogger("hftui.engine").info("between commands")
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        sender.close()
        receiver.close()
    for handler in list(logging.getLogger().handlers):
        handler.close()  # writes what is queued
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    by_id: dict[int, list[dict[str, object]]] = {}
    for line in lines:
        by_id.setdefault(int(line.get("request_id", 0)), []).append(line)
    placed = [str(line["msg"]) for line in by_id[place]]
    assert placed[0] == "command"
    assert "answer" in placed
    assert len(placed) > 2  # what execution said about the order, in between
    killed = by_id[kill]
    # The kill runs as a task of its own: its lines are found by the kill's id too.
    assert {str(line["logger"]) for line in killed} - {"hftui.engine.control"}, killed
    assert [line for line in by_id[0] if line["msg"] == "between commands"]
    assert not [line for line in by_id[0] if line["msg"] in ("command", "answer")]
