"""The command and event rings: round trips of every kind, several producers, overruns,
and hygiene of the segments."""

from __future__ import annotations

import dataclasses
import mmap
import os
import resource
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.protocol import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    AlertRaised,
    CancelAll,
    CancelOrder,
    Command,
    CommandAnswered,
    Event,
    Flatten,
    Heartbeat,
    Kill,
    Mode,
    ModeChanged,
    OrderChanged,
    OrderFilled,
    OrderStatus,
    OrderType,
    PauseStrategy,
    PlaceOrder,
    Rearm,
    Reason,
    ReloadRisk,
    ReplaceOrder,
    ResumeStrategy,
    SetMode,
    Side,
)
from hftui.rings import (
    EVENT_CAPACITY,
    CommandReceiver,
    CommandSender,
    EventReader,
    EventWriter,
    RingError,
    RingFullError,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
)

COMMANDS: list[Command] = [
    PlaceOrder("BTCUSDT", Side.BUY, "0.010", "64000.10", OrderType.LIMIT, post_only=True),
    PlaceOrder("ETHUSDT", Side.SELL, "1", "", OrderType.MARKET, reduce_only=True),
    CancelOrder("m-abc-12"),
    ReplaceOrder("m-abc-12", "0.020", "63999.90"),
    ReplaceOrder("m-abc-13", price="1.5"),
    CancelAll(""),
    CancelAll("ETHUSDT"),
    Flatten("BTCUSDT"),
    Kill(),
    Kill(flatten=True),
    Rearm(),
    ReloadRisk(),
    SetMode(Mode.LIVE, "LIVE"),
    SetMode(Mode.OBSERVE),
    PauseStrategy("momentum"),
    ResumeStrategy("maker"),
    Heartbeat(),
    Heartbeat(False, 123_456_789, 42),
]

EVENTS: list[Event] = [
    CommandAnswered(123, True, Reason.OK, "accepted"),
    CommandAnswered(7, False, Reason.PRICE_BAND, "price 70000 is 900 bps from mid"),
    OrderChanged(
        "m-x-1",
        "BTCUSDT",
        Side.SELL,
        OrderStatus.PARTIALLY_FILLED,
        "1.000",
        "1.1",
        "0.5",
        Reason.OK,
        "partial",
    ),
    OrderFilled("m-x-1", "BTCUSDT", Side.BUY, "0.5", "1.1", "maker fee 0.01"),
    AlertRaised(30, "feed stale"),
    ModeChanged(Mode.OBSERVE, True, "killed by trader"),
]


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:10]
    cmd, evt = f"hftui_test_{tag}_cmd", f"hftui_test_{tag}_evt"
    yield cmd, evt
    for name in (cmd, evt):
        path = f"/dev/shm/{name}"
        if os.path.exists(path):
            os.unlink(path)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.tag)
def test_every_command_round_trips(command: Command) -> None:
    records = np.zeros(1, COMMAND_DTYPE)
    encode_command(command, records[0:1].reshape(()))
    assert decode_command(records[0]) == command


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.tag)
def test_every_event_round_trips(event: Event) -> None:
    records = np.zeros(1, EVENT_DTYPE)
    encode_event(event, records[0:1].reshape(()))
    assert decode_event(records[0]) == event


def test_too_long_fields_are_refused_not_cut() -> None:
    record = np.zeros((), COMMAND_DTYPE)
    with pytest.raises(ValueError, match="symbol"):
        encode_command(CancelAll("X" * 17), record)


def test_garbage_records_are_ring_errors() -> None:
    records = np.zeros(1, COMMAND_DTYPE)
    records[0]["kind"] = 99
    with pytest.raises(RingError):
        decode_command(records[0])
    records[0]["kind"] = 1
    records[0]["side"] = 5
    with pytest.raises(RingError):
        decode_command(records[0])
    heartbeat = np.zeros((), COMMAND_DTYPE)
    encode_command(Heartbeat(), heartbeat)
    for read, overruns in ((b"-1", b"0"), (b"x", b"0"), (b"0", b"9" * 20)):
        heartbeat["qty"], heartbeat["price"] = read, overruns
        with pytest.raises(RingError):
            decode_command(heartbeat.reshape(1)[0])
    events = np.zeros(1, EVENT_DTYPE)
    events[0]["kind"] = 42
    with pytest.raises(RingError):
        decode_event(events[0])


def test_commands_flow_in_order_with_ids(names: tuple[str, str], tmp_path: Path) -> None:
    receiver = CommandReceiver(names[0], capacity=8)
    sender = CommandSender(names[0], tmp_path / "cmd.lock")
    try:
        assert receiver.poll() == []
        ids = [sender.send(c) for c in COMMANDS[:5]]
        got = receiver.poll()
        assert [g[0] for g in got] == ids
        assert [g[2] for g in got] == COMMANDS[:5]
        assert {g[1] for g in got} == {os.getpid()}
        assert receiver.poll() == []
        assert os.stat(f"/dev/shm/{names[0]}").st_mode & 0o777 == 0o600
        assert os.stat(tmp_path / "cmd.lock").st_mode & 0o777 == 0o600
    finally:
        sender.close()
        receiver.close()
    assert not os.path.exists(f"/dev/shm/{names[0]}")


def test_commands_carry_the_time_of_the_key_press(names: tuple[str, str], tmp_path: Path) -> None:
    receiver = CommandReceiver(names[0], capacity=8)
    sender = CommandSender(names[0], tmp_path / "cmd.lock")
    try:
        before = time.monotonic_ns()
        sender.send(Kill())
        after = time.monotonic_ns()
        sender.send(Rearm(), sent_ns=12345)
        (first, second) = receiver.poll_stamped()
        assert before <= first.sent_ns <= after
        assert (first.command, second.command, second.sent_ns) == (Kill(), Rearm(), 12345)
        assert first.sender_pid == os.getpid()
    finally:
        sender.close()
        receiver.close()


def test_a_full_ring_is_refused_and_frees_up(names: tuple[str, str], tmp_path: Path) -> None:
    receiver = CommandReceiver(names[0], capacity=4)
    sender = CommandSender(names[0], tmp_path / "cmd.lock")
    try:
        for _ in range(4):
            sender.send(Rearm())
        with pytest.raises(RingFullError):
            sender.send(Rearm())
        assert len(receiver.poll(limit=2)) == 2
        sender.send(Kill())
        assert [c for _, _, c in receiver.poll()] == [Rearm(), Rearm(), Kill()]
    finally:
        sender.close()
        receiver.close()


def test_concurrent_producers_lose_nothing(names: tuple[str, str], tmp_path: Path) -> None:
    receiver = CommandReceiver(names[0], capacity=256)
    lock = tmp_path / "cmd.lock"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from hftui.protocol import CancelOrder
        from hftui.rings import CommandSender
        import sys
        s = CommandSender({names[0]!r}, Path({str(lock)!r}))
        for i in range(50):
            s.send(CancelOrder(f"{{sys.argv[1]}}-{{i}}"))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, f"p{k}"]) for k in range(4)]
    try:
        got: list[Command | RingError] = []
        while len(got) < 200:
            got.extend(c for _, _, c in receiver.poll())
            if all(p.poll() is not None for p in procs) and len(got) < 200:
                got.extend(c for _, _, c in receiver.poll())
                break
        assert all(p.wait(30) == 0 for p in procs)
        ids = [c.client_id for c in got if isinstance(c, CancelOrder)]
        assert sorted(ids) == sorted(f"p{k}-{i}" for k in range(4) for i in range(50))
        for k in range(4):  # each producer's own commands stay in its order
            mine = [i for i in ids if i.startswith(f"p{k}-")]
            assert mine == [f"p{k}-{i}" for i in range(50)]
    finally:
        for p in procs:
            p.kill()
            p.wait()
        receiver.close()


def test_events_broadcast_to_every_reader(names: tuple[str, str]) -> None:
    writer = EventWriter(names[1], capacity=16)
    try:
        early = EventReader(names[1])
        for event in EVENTS[:3]:
            writer.publish(event)
        late = EventReader(names[1])  # attaches after: sees only what comes next
        replay = EventReader(names[1], from_start=True)
        writer.publish(EVENTS[3])
        assert early.poll() == (EVENTS[:4], False)
        assert late.poll() == ([EVENTS[3]], False)
        assert replay.poll() == (EVENTS[:4], False)
        assert early.poll() == ([], False)
        for reader in (early, late, replay):
            reader.close()
    finally:
        writer.close()


# Up to 60 characters of up to 4 bytes: past the record's 120 bytes of text now and then.
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60)
_ASCII = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=16)
_ANY_EVENT = st.one_of(
    st.builds(
        CommandAnswered, st.integers(0, 2**63), st.booleans(), st.sampled_from(Reason), _TEXT
    ),
    st.builds(
        OrderChanged,
        _ASCII,
        _ASCII,
        st.sampled_from(Side),
        st.sampled_from(OrderStatus),
        _ASCII,
        _ASCII,
        _ASCII,
        st.sampled_from(Reason),
        _TEXT,
    ),
    st.builds(OrderFilled, _ASCII, _ASCII, st.sampled_from(Side), _ASCII, _ASCII, _TEXT),
    st.builds(AlertRaised, st.sampled_from((10, 20, 30, 40, 50)), _TEXT),
    st.builds(ModeChanged, st.sampled_from(Mode), st.booleans(), _TEXT),
)


@settings(max_examples=200, deadline=None)
@given(event=_ANY_EVENT)
def test_the_writer_and_reader_fast_paths_agree_with_the_record_codec(event: Event) -> None:
    # publish() packs with struct and poll() unpacks with it; encode_event/decode_event are
    # the numpy codec: the same bytes, the same event back. The event goes into a slot an
    # order with every field set held before: nothing of that one may stay.
    name = f"hftui_test_{uuid.uuid4().hex[:10]}_evt"
    writer = EventWriter(name, capacity=4)
    try:
        full = OrderChanged(
            "c" * 40,
            "S" * 16,
            Side.SELL,
            OrderStatus.NEW,
            "9" * 24,
            "8" * 24,
            "7" * 24,
            Reason.MAX_QTY,
            "t" * 120,
        )
        for _ in range(4):
            writer.publish(full)
        reader = EventReader(name)
        writer.publish(event)
        raw = event.text.encode()
        # A text over 120 bytes arrives cut on a character boundary and marked with "…".
        text = raw[:117].decode(errors="ignore") + "…" if len(raw) > 120 else event.text
        shown = dataclasses.replace(event, text=text)
        assert reader.poll() == ([shown], False)
        reader.close()
        shm = writer._shm.buf
        assert shm is not None
        slots = np.ndarray((4,), EVENT_DTYPE, buffer=shm, offset=192)
        expected = np.zeros((), EVENT_DTYPE)
        encode_event(event, expected)
        # The slot's raw bytes, padding included (a record's copy leaves its padding
        # uninitialised), less the seqlock and the timestamp, which the codec does not set.
        size = EVENT_DTYPE.itemsize
        written = bytes(16) + bytes(shm[192 + 16 : 192 + size])
        assert written == expected.tobytes()
        assert decode_event(slots[0]) == shown
        del slots, shm
    finally:
        writer.close()


@settings(max_examples=30, deadline=None)
@given(written=st.integers(0, 200), read_every=st.integers(1, 50))
def test_a_slow_reader_detects_overrun_and_never_sees_a_torn_or_reordered_event(
    written: int, read_every: int
) -> None:
    name = f"hftui_test_{uuid.uuid4().hex[:10]}_evt"
    writer = EventWriter(name, capacity=8)
    reader = EventReader(name)
    try:
        seen: list[int] = []
        overruns = False
        for n in range(written):
            writer.publish(CommandAnswered(n + 1, True, Reason.OK, f"event {n}"))
            if (n + 1) % read_every == 0:
                events, lapped = reader.poll()
                overruns |= lapped
                seen.extend(e.request_id - 1 for e in events if isinstance(e, CommandAnswered))
        events, lapped = reader.poll()
        overruns |= lapped
        seen.extend(e.request_id - 1 for e in events if isinstance(e, CommandAnswered))
        assert seen == sorted(seen)
        assert len(set(seen)) == len(seen)
        assert seen[-1:] == ([written - 1] if written else [])
        lost = written - len(seen)
        assert lost == reader.overruns
        assert overruns == (lost > 0)
    finally:
        reader.close()
        writer.close()


def test_a_client_exiting_does_not_unlink_the_rings(names: tuple[str, str]) -> None:
    receiver = CommandReceiver(names[0])
    writer = EventWriter(names[1])
    try:
        script = textwrap.dedent(
            f"""
            from pathlib import Path
            from hftui.rings import CommandSender, EventReader
            import tempfile
            s = CommandSender({names[0]!r}, Path(tempfile.mkdtemp()) / "l")
            r = EventReader({names[1]!r})
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        assert os.path.exists(f"/dev/shm/{names[0]}")
        assert os.path.exists(f"/dev/shm/{names[1]}")
    finally:
        receiver.close()
        writer.close()


def test_events_are_values_and_the_type_checker_keeps_them_immutable(tmp_path: Path) -> None:
    # Event classes are plain slotted dataclasses at run time (cheaper to build off the
    # ring) and frozen to mypy: hashed and compared by value, and no code may assign a field.
    for event in EVENTS:
        twin = dataclasses.replace(event)
        assert twin == event
        assert hash(twin) == hash(event)
        assert twin != dataclasses.replace(event, text=event.text + "!")
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from hftui.protocol import AlertRaised, CommandAnswered, ModeChanged, OrderChanged,"
        " OrderFilled\n"
        + "".join(
            f"def f{i}(e: {cls.__name__}) -> None:\n    e.text = ''\n"
            for i, cls in enumerate(
                (CommandAnswered, OrderChanged, OrderFilled, AlertRaised, ModeChanged)
            )
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(probe)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.count("is read-only") == 5, done.stdout + done.stderr


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(sys.platform != "linux", reason="MAP_POPULATE is Linux's")
def test_the_first_lap_of_the_event_ring_takes_no_page_faults(names: tuple[str, str]) -> None:
    # Pages are faulted in when the engine makes the ring and when a client maps it, not on
    # the hot path: a fault costs microseconds, and the first lap of a fresh ring used to
    # take one per page in the writer and one per 16 pages (the kernel maps the pages around
    # a read fault) in every reader.
    writer = EventWriter(names[1])
    reader = EventReader(names[1])
    try:
        pages = EVENT_CAPACITY * EVENT_DTYPE.itemsize // mmap.PAGESIZE
        event = AlertRaised(20, "x" * 100)
        before = _minor_faults()
        for _ in range(EVENT_CAPACITY):
            writer.publish(event)
        written = _minor_faults()
        taken = 0
        while taken < EVENT_CAPACITY:
            batch, overrun = reader.poll(16)  # a few events at a time: no heap to grow
            assert not overrun
            taken += len(batch)
        read = _minor_faults()
        assert taken == EVENT_CAPACITY
        assert pages > 200
        assert written - before < pages // 50, f"{written - before} faults writing {pages} pages"
        assert read - written < pages // 50, f"{read - written} faults reading {pages} pages"
    finally:
        reader.close()
        writer.close()


def test_attaching_to_something_else_is_a_clear_error(names: tuple[str, str]) -> None:
    with pytest.raises(RingError, match="does not exist"):
        EventReader(names[1])
    writer = EventWriter(names[1])
    try:
        with pytest.raises(RingError, match="not a ring"):
            CommandSender(names[1], Path("/tmp/unused.lock"))
    finally:
        writer.close()


def test_a_text_too_long_for_its_record_is_cut_on_a_character_and_marked() -> None:
    name = f"hftui_test_{uuid.uuid4().hex[:10]}_evt"
    writer = EventWriter(name, capacity=4)
    try:
        reader = EventReader(name)
        writer.publish(AlertRaised(30, "é" * 70))  # 140 bytes: two bytes a character
        writer.publish(AlertRaised(30, "x" * 120))  # exactly the room there is: whole
        events, _ = reader.poll()
        assert [e.text for e in events] == ["é" * 58 + "…", "x" * 120]
        assert len(events[0].text.encode()) == 119  # the half character before "…" dropped
        reader.close()
    finally:
        writer.close()
