"""`EngineControl` over real rings: answers are matched to requests and nothing is lost."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hftui.instance import InstanceInfo
from hftui.protocol import AlertRaised, CommandAnswered, Kill, Rearm, Reason
from hftui.remote import EngineControl, RingError
from hftui.rings import CommandReceiver, EventWriter, command_segment_name, event_segment_name


@pytest.fixture
def engine_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[InstanceInfo, CommandReceiver, EventWriter]]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    # The control nudges the engine's pid with SIGUSR1: here that is this process.
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    instance = f"t{uuid.uuid4().hex[:8]}"
    pid = os.getpid()
    receiver = CommandReceiver(command_segment_name(instance, pid))
    writer = EventWriter(event_segment_name(instance, pid))
    info = InstanceInfo(instance, pid, "unused", 0, "local", "", tmp_path / "instance.json")
    try:
        yield info, receiver, writer
    finally:
        receiver.close()
        writer.close()
        signal.signal(signal.SIGUSR1, previous)


def test_answers_read_in_one_batch_all_reach_their_waiters(
    engine_side: tuple[InstanceInfo, CommandReceiver, EventWriter],
) -> None:
    info, receiver, writer = engine_side
    control = EngineControl(info)
    try:
        first, second = control.send(Kill()), control.send(Rearm())
        assert [c for _, _, c in receiver.poll()] == [Kill(), Rearm()]
        # Both answers, and an alert, land before the client looks: one batch.
        writer.publish(CommandAnswered(second, True, Reason.OK, "re-armed"))
        writer.publish(AlertRaised(30, "an alert"))
        writer.publish(CommandAnswered(first, True, Reason.OK, "killed"))
        answers = [control.wait_answer(first, 1.0), control.wait_answer(second, 1.0)]
        assert [a.text if a else None for a in answers] == ["killed", "re-armed"]
        assert control.wait_answer(12345, 0.01) is None
        events, overrun = control.poll()
        assert (events, overrun) == ([AlertRaised(30, "an alert")], False)
    finally:
        control.close()


def test_a_client_waiting_on_a_dead_engine_is_told_at_once(
    engine_side: tuple[InstanceInfo, CommandReceiver, EventWriter],
) -> None:
    info, _receiver, _writer = engine_side
    control = EngineControl(info)
    try:
        request_id = control.send(Kill())
        # The rings stay (as after kill -9), but the pid they name is gone.
        dead = subprocess.Popen(["true"])
        dead.wait()
        control.info = dataclasses.replace(info, pid=dead.pid)
        started = time.monotonic()
        with pytest.raises(RingError, match="stopped before answering"):
            control.wait_answer(request_id, 10.0)
        assert time.monotonic() - started < 2.0
    finally:
        control.close()
