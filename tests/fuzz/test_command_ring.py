"""The command ring written by a hostile or buggy client: random bytes in whole slots and
random values in every `COMMAND_DTYPE` field, straight into the shared memory.

The contract: the engine's receiver never raises; each committed record comes back as a
command or as the `RingError` saying why not; the engine answers an undecodable record
BAD_COMMAND (when it carries a request id) and a decodable one without an internal error; and
an honest client's command sent after the junk arrives intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hftui.config import Config
from hftui.engine.control import Controller
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.kill_switch import KillSwitch
from hftui.exchange.symbols import exchange_info
from hftui.protocol import COMMAND_DTYPE, CancelAll, CommandAnswered, Event, Reason
from hftui.rings import (
    _RING_HEADER,
    CommandReceiver,
    CommandSender,
    RingError,
    _attach,
    decode_command,
)
from tests.fuzz import examples

SIZE = COMMAND_DTYPE.itemsize
assert COMMAND_DTYPE.fields is not None
FIELDS = {name: spec[0] for name, spec in COMMAND_DTYPE.fields.items() if name != "commit"}


@st.composite
def field_records(draw: st.DrawFn) -> bytes:
    """A record whose every field holds a value of its type, chosen at random."""
    record = np.zeros((), COMMAND_DTYPE)
    for name, kind in FIELDS.items():
        if kind.kind == "S":
            record[name] = draw(st.binary(max_size=kind.itemsize))
        else:
            info = np.iinfo(kind)
            record[name] = draw(st.integers(0, 20) | st.integers(int(info.min), int(info.max)))
    return record.tobytes()


records = st.lists(
    st.binary(min_size=SIZE, max_size=SIZE) | field_records(), min_size=1, max_size=12
)


@contextlib.contextmanager
def hostile_ring() -> Iterator[tuple[CommandReceiver, np.ndarray, np.ndarray, str]]:
    """The engine's receiver and a client's raw, writable view of the same slots."""
    name = f"hftui_fuzz_{uuid.uuid4().hex[:10]}_cmd"
    receiver = CommandReceiver(name, capacity=16)
    mapping, capacity = _attach(name, COMMAND_DTYPE, writable=True)
    header = np.ndarray((), _RING_HEADER, buffer=mapping)
    slots = np.ndarray((capacity,), COMMAND_DTYPE, buffer=mapping, offset=_RING_HEADER.itemsize)
    try:
        yield receiver, header, slots, name
    finally:
        del header, slots
        mapping.close()
        receiver.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/dev/shm/{name}")


def write(header: np.ndarray, slots: np.ndarray, raw: bytes) -> int:
    """Put `raw` in the next slot as a client would, committing it; its request id."""
    head = int(header["head"])
    slot = slots[head % len(slots) : head % len(slots) + 1]
    slot.view(np.uint8)[:] = np.frombuffer(raw, np.uint8)
    slot["commit"] = head + 1
    header["head"] = head + 1
    return int(slot["request_id"][0])


@settings(max_examples=examples(200), deadline=None)
@given(junk=records)
@example(junk=[b"\xff" * SIZE])
@example(junk=[b"\x00" * SIZE])
def test_the_receiver_takes_any_record_and_then_an_honest_one(
    junk: list[bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    with hostile_ring() as (receiver, header, slots, name):
        for raw in junk:
            write(header, slots, raw)
        got = receiver.poll_stamped()
        assert len(got) == len(junk)
        for received, raw in zip(got, junk, strict=True):
            record = np.frombuffer(raw, COMMAND_DTYPE)[0]
            assert received.request_id == int(record["request_id"])
            if isinstance(received.command, RingError):
                assert "malformed command record" in str(received.command)
            else:
                assert received.command == decode_command(record)
        lock = tmp_path_factory.mktemp("lock") / "ring.lock"
        sender = CommandSender(name, lock)
        try:
            request_id = sender.send(CancelAll("BTCUSDT"))
        finally:
            sender.close()
        [honest] = receiver.poll_stamped()
        assert honest.request_id == request_id
        assert honest.command == CancelAll("BTCUSDT")


@settings(max_examples=examples(200), deadline=None)
@given(raw=st.binary(min_size=SIZE, max_size=SIZE), commit=st.integers(0, 2**64 - 1))
def test_a_record_not_committed_in_turn_is_not_taken(raw: bytes, commit: int) -> None:
    # A client that died mid-write (or lies in `commit`) leaves a slot the engine waits on.
    with hostile_ring() as (receiver, _header, slots, _):
        slots[0:1].view(np.uint8)[:] = np.frombuffer(raw, np.uint8)
        slots[0]["commit"] = commit
        got = receiver.poll_stamped()
        assert len(got) == (1 if commit == 1 else 0)


# ---- the engine's answers ----------------------------------------------------------------

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT", "ETHUSDT"), 0), ["BTCUSDT", "ETHUSDT"])


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


async def _serve(junk: list[bytes], state: Path) -> None:
    events: list[Event] = []
    config = Config()
    execution = Execution(config, INSTRUMENTS, events.append)
    controller = Controller(config, execution, KillSwitch(state / "kill.json"), events.append)
    failures = _Failures()
    logging.getLogger("hftui").addHandler(failures)
    with hostile_ring() as (receiver, header, slots, _):
        ids = [write(header, slots, raw) for raw in junk]
        serving = asyncio.create_task(controller.serve(receiver))
        try:
            for _ in range(100):
                await asyncio.sleep(0.01)
                if int(header["tail"]) == len(junk):
                    break
            await asyncio.sleep(0.05)  # what the commands started runs a moment
            assert not serving.done()  # the loop is still serving
            assert int(header["tail"]) == len(junk)  # and took every record
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            for task in list(execution._tasks):
                task.cancel()
            logging.getLogger("hftui").removeHandler(failures)
    answers = [e for e in events if isinstance(e, CommandAnswered)]
    for raw, request_id in zip(junk, ids, strict=True):
        record = np.frombuffer(raw, COMMAND_DTYPE)[0]
        try:
            decode_command(record)
        except RingError:
            if request_id:
                mine = [a for a in answers if a.request_id == request_id]
                assert any(a.reason == Reason.BAD_COMMAND for a in mine), mine
    assert not [m for m in failures.seen if "failed" in m], failures.seen
    assert not [a for a in answers if "internal error" in a.text], answers


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(junk=records)
def test_the_engine_answers_junk_and_keeps_serving(
    junk: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keys, if a junk command asks for them, come from a throwaway file keyring.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    asyncio.run(_serve(junk, tmp_path))
