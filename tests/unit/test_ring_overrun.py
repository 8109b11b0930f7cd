"""A slow TUI lapped by the event ring resyncs from the snapshots; the segments are private,
named per engine instance, and outlive every reader process, resource tracker and all."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hftui.instance import InstanceInfo
from hftui.ipc import SnapshotReader, SnapshotWriter, segment_name
from hftui.link import CommandLink, EngineLink
from hftui.protocol import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    AlertRaised,
    Command,
    CommandAnswered,
    Event,
    Heartbeat,
    Mode,
    ModeChanged,
    OrderChanged,
    OrderFilled,
    OrderStatus,
    Reason,
    Side,
    TakeControl,
)
from hftui.remote import EngineControl
from hftui.rings import (
    CommandReceiver,
    EventReader,
    EventWriter,
    command_segment_name,
    decode_command,
    encode_command,
    encode_event,
    event_segment_name,
)


@pytest.mark.parametrize("command", [Heartbeat(), Heartbeat(claim=False), TakeControl()])
def test_dead_man_commands_round_trip(command: Command) -> None:
    records = np.zeros(1, COMMAND_DTYPE)
    encode_command(command, records[0:1].reshape(()))
    assert decode_command(records[0]) == command


class Engine:
    """The engine's three segments for one instance, owned by this test."""

    def __init__(self, instance: str, event_capacity: int = 4096) -> None:
        pid = os.getpid()
        self.region = SnapshotWriter(segment_name(instance, pid))
        self.commands = CommandReceiver(command_segment_name(instance, pid))
        self.events = EventWriter(event_segment_name(instance, pid), capacity=event_capacity)
        self.info = InstanceInfo(instance, pid, self.region.name, 1, "local", "", Path("/x"))
        self.names = (self.region.name, self.commands.name, self.events.name)

    def set_mode(self, mode: Mode) -> None:
        self.region.begin_header()
        self.region.header["mode"] = int(mode)
        self.region.header["heartbeat_ns"] = time.time_ns()
        self.region.end_header()

    def close(self) -> None:
        self.region.close()
        self.commands.close()
        self.events.close()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Engine]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the command ring's lock file
    made = Engine(f"t{uuid.uuid4().hex[:8]}", event_capacity=16)
    try:
        yield made
    finally:
        made.close()


def test_a_lapped_tui_says_so_and_the_dashboard_resyncs_from_the_snapshot(
    engine: Engine,
) -> None:
    control = EngineControl(engine.info)
    link = EngineLink(SnapshotReader(engine.region.name), engine.info.pid)
    commands = CommandLink(control)
    try:
        engine.set_mode(Mode.OBSERVE)
        assert link.poll().mode is Mode.OBSERVE
        # The TUI stalls while the engine publishes three rings' worth, the mode change
        # among the lost events.
        engine.events.publish(ModeChanged(Mode.PAPER, False, "observe -> paper"))
        engine.set_mode(Mode.PAPER)
        for n in range(48):
            engine.events.publish(AlertRaised(20, f"alert {n}"))
        notices = commands.poll()
        assert notices[-1].title == "events"
        assert "missed" in notices[-1].text
        assert control.events.overruns > 0
        shown = [n.text for n in notices if n.title == "alert"]
        assert shown == [f"alert {n}" for n in range(48 - len(shown), 48)]  # newest, in order
        assert 0 < len(shown) < 16
        # The snapshot, not the lost event, is what the dashboard shows.
        assert link.poll().mode is Mode.PAPER
        # Caught up: the next event comes through whole, with no overrun.
        engine.events.publish(CommandAnswered(9, True, Reason.OK, "late"))
        engine.events.publish(AlertRaised(30, "after"))
        assert [n.text for n in commands.poll()] == ["after"]
    finally:
        link.close()
        control.close()


def test_segments_are_owner_only_and_named_per_engine_instance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    tag = uuid.uuid4().hex[:6]
    first, second = Engine(f"a{tag}"), Engine(f"b{tag}")
    try:
        assert not set(first.names) & set(second.names)
        for engine in (first, second):
            instance = engine.info.instance
            for name in engine.names:
                assert name.startswith(f"hftui_{instance}_{os.getpid()}_")
                mode = stat.S_IMODE(os.stat(f"/dev/shm/{name}").st_mode)
                assert mode == 0o600, f"{name}: {oct(mode)}"
    finally:
        first.close()
        second.close()


_READER = """
import sys
from multiprocessing import resource_tracker
from pathlib import Path
from hftui.ipc import SnapshotReader
from hftui.rings import CommandSender, EventReader
from hftui.protocol import Heartbeat
resource_tracker.ensure_running()  # a tracker is there to do harm, if anything registers
snap, cmd, evt, lock = sys.argv[1:]
reader = SnapshotReader(snap)
events = EventReader(evt, from_start=True)
sender = CommandSender(cmd, Path(lock))
sender.send(Heartbeat())
reader.header()
events.poll()
"""

_ATTACH_THE_STDLIB_WAY = """
import sys
from multiprocessing import shared_memory
shared_memory.SharedMemory(sys.argv[1])
"""


def _child(script: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        check=True,
        timeout=60,
        capture_output=True,
    )


def test_reader_processes_exiting_leave_every_segment(engine: Engine, tmp_path: Path) -> None:
    lock = str(tmp_path / "cmd.lock")
    for _ in range(2):  # a TUI that quits, then one that attaches again and quits
        _child(_READER, engine.names[0], engine.names[1], engine.names[2], lock)
    time.sleep(0.3)  # a resource tracker unlinks after its client has gone
    for name in engine.names:
        assert os.path.exists(f"/dev/shm/{name}"), name
    assert [r.command for r in engine.commands.poll_stamped()] == [Heartbeat(), Heartbeat()]


def test_the_stdlib_attach_would_have_unlinked_it() -> None:
    # The hazard the readers avoid, shown on a scratch segment: Python 3.11's resource
    # tracker unlinks a segment that a mere reader attached to, when that reader exits.
    if sys.version_info >= (3, 13):
        pytest.skip("3.13 can attach without tracking; the readers do not rely on either")
    name = f"hftui_test_{uuid.uuid4().hex[:10]}_scratch"
    scratch = SnapshotWriter(name)
    try:
        _child(_ATTACH_THE_STDLIB_WAY, name)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/dev/shm/{name}") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not os.path.exists(f"/dev/shm/{name}")
    finally:
        scratch.close()


def test_the_writer_stores_exactly_what_encode_event_describes() -> None:
    events: list[Event] = [
        CommandAnswered(2**63 + 5, False, Reason.PRICE_BAND, "far " * 40),
        OrderChanged(
            "m-" + "x" * 50, "BTCUSDT", Side.SELL, OrderStatus.NEW, "1", "2", "0", Reason.OK, "t"
        ),
        OrderFilled("m-1", "ETHUSDT", Side.BUY, "0.5", "1.1", "maker"),
        AlertRaised(40, "ünïcode alert"),
        ModeChanged(Mode.LIVE, True, "killed"),
    ]
    name = f"hftui_test_{uuid.uuid4().hex[:10]}_evt"
    writer = EventWriter(name, capacity=8)
    reader = EventReader(name, from_start=True)
    try:
        for event in events:
            writer.publish(event)
        size = EVENT_DTYPE.itemsize
        for n, event in enumerate(events):
            # Raw bytes, padding included (a numpy copy would not carry the padding over).
            raw = bytes(reader._map[192 + n * size : 192 + (n + 1) * size])
            expected = np.zeros((), EVENT_DTYPE)
            encode_event(event, expected)
            expected["seq"] = 2 * n + 2
            expected["time_ns"] = np.frombuffer(raw, EVENT_DTYPE)[0]["time_ns"]
            assert raw == expected.tobytes(), event.tag
        decoded, overrun = reader.poll()
        assert not overrun
        assert [e.tag for e in decoded] == [e.tag for e in events]
    finally:
        reader.close()
        writer.close()
