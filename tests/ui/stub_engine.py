"""The engine's side of the command and event rings, for pilot tests of the trading keys.

Real rings, real segments: the TUI under test talks to them through a real `EngineControl`.
Only the engine behind them is small: it answers each command with the engine's rules for
modes and the kill latch (`hftui.engine.control`, which the TUI must not import), and
publishes the latch and mode in the snapshot region as the engine's publisher does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hftui.instance import InstanceInfo
from hftui.ipc import SnapshotWriter
from hftui.protocol import (
    AlertRaised,
    CancelAll,
    Command,
    CommandAnswered,
    Event,
    Flatten,
    Heartbeat,
    Kill,
    Mode,
    ModeChanged,
    Rearm,
    Reason,
    SetMode,
)
from hftui.remote import EngineControl
from hftui.rings import (
    CommandReceiver,
    EventWriter,
    RingError,
    command_segment_name,
    event_segment_name,
)
from tests.support.region import FROZEN_NS, fill_header

KILLED_NS = FROZEN_NS - 2 * 10**9  # the stub's kills happen at 11:06:38 UTC
_SIGUSR1_BIT = 1 << 9  # SIGUSR1 (10) in /proc/<pid>/status SigIgn


@dataclass
class StubEngine:
    """Answers commands like the engine and keeps the region's header in step."""

    region: SnapshotWriter
    receiver: CommandReceiver
    events: EventWriter
    mode: Mode = Mode.OBSERVE
    killed: bool = False
    kill_reason: str = ""
    kill_flatten: bool = False
    has_keys: bool = True
    open_orders: int = 0
    refusals: int = 0
    received: list[Command] = field(default_factory=list)
    heartbeats: int = 0
    published: list[Event] = field(default_factory=list)

    def publish_header(self) -> None:
        fill_header(
            self.region,
            mode=self.mode,
            killed=self.killed,
            killed_ns=KILLED_NS if self.killed else 0,
            kill_reason=self.kill_reason,
            kill_flatten=self.kill_flatten,
            has_keys=self.has_keys,
            open_orders=self.open_orders,
            refusals=self.refusals,
        )

    def publish(self, event: Event) -> None:
        self.published.append(event)
        self.events.publish(event)

    def step(self) -> None:
        """Answer every command waiting on the ring."""
        for request_id, _sender, command in self.receiver.poll():
            if isinstance(command, RingError):
                self._answer(request_id, Reason.BAD_COMMAND, str(command))
                continue
            if isinstance(command, Heartbeat):
                self.heartbeats += 1  # the dead-man's switch is the real engine's business
                continue
            self.received.append(command)
            self._handle(request_id, command)
        self.publish_header()

    async def serve(self) -> None:
        while True:
            self.step()
            await asyncio.sleep(0.005)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StubEngine]:
        """Serve the command ring in the test's event loop while the block runs."""
        task = asyncio.create_task(self.serve())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _answer(self, request_id: int, reason: Reason, text: str) -> None:
        if reason is not Reason.OK:
            self.refusals += 1
        self.publish(CommandAnswered(request_id, reason is Reason.OK, reason, text))

    def _handle(self, request_id: int, command: Command) -> None:
        match command:
            case Kill():
                self.mode, self.killed = Mode.OBSERVE, True
                self.kill_reason, self.kill_flatten = "kill switch", command.flatten
                self.open_orders = 0
                self.publish(ModeChanged(Mode.OBSERVE, True, "KILLED (kill switch)"))
                flattened = "; flattened 0 position(s)" if command.flatten else ""
                text = f"killed: cancels sent in 0.4 ms, zero open orders at 3.1 ms{flattened}"
                self._answer(request_id, Reason.OK, text)
            case Rearm():
                if not self.killed:
                    self._answer(request_id, Reason.OK, "not killed; nothing to re-arm")
                    return
                self.killed, self.kill_reason, self.kill_flatten = False, "", False
                self.publish(ModeChanged(self.mode, False, "re-armed"))
                self._answer(request_id, Reason.OK, "re-armed; still in observe")
            case SetMode():
                self._set_mode(request_id, command)
            case CancelAll():
                where = command.symbol or "every symbol"
                canceled, self.open_orders = self.open_orders, 0
                self._answer(
                    request_id, Reason.OK, f"canceled on {where}: {canceled} paper, 0 live order(s)"
                )
            case Flatten():
                if self.mode is Mode.OBSERVE:
                    self._answer(request_id, Reason.OK, "observe: no position to flatten")
                    return
                self._answer(request_id, Reason.OK, f"{command.symbol}: sell 0.010 at market")
            case _:
                self._answer(request_id, Reason.BAD_COMMAND, f"not served here: {command.tag}")

    def _set_mode(self, request_id: int, command: SetMode) -> None:
        # The engine's rules (hftui.engine.control.Controller._set_mode), answer for answer.
        target, old = command.mode, self.mode
        if target == old:
            self._answer(request_id, Reason.OK, f"already in {old.label}")
            return
        if target > old:
            if self.killed:
                self._answer(request_id, Reason.KILLED, Reason.KILLED.text)
                return
            if target != old + 1:
                step = f"{old.label} -> {target.label}: go to {Mode(old + 1).label} first"
                self._answer(request_id, Reason.MODE_STEP, step)
                return
            if target is Mode.LIVE and command.confirm != "LIVE":
                self._answer(request_id, Reason.CONFIRMATION, "type LIVE to confirm going live")
                return
            if target is Mode.LIVE and not self.has_keys:
                text = "no API keys for local: store them with `hftui keys set`"
                self._answer(request_id, Reason.NO_KEYS, text)
                return
        self.mode = target
        self.publish(ModeChanged(target, self.killed, f"{old.label} -> {target.label}"))
        self._answer(request_id, Reason.OK, f"mode {target.label}")

    def alert(self, level: int, text: str) -> None:
        """Raise an alert, as the engine does for trouble it handles itself."""
        self.publish(AlertRaised(level, text))


def _ignores_sigusr1(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & _SIGUSR1_BIT)
    return False


@contextlib.contextmanager
def stand_in_process() -> Iterator[subprocess.Popen[bytes]]:
    """A child that ignores SIGUSR1, to own the rings' pid: `EngineControl.send` nudges the
    engine's pid with SIGUSR1, which would end an ordinary process (or this test run)."""
    child = subprocess.Popen(["sh", "-c", "trap '' USR1; exec sleep 600"])
    try:
        deadline = time.monotonic() + 5.0
        while not _ignores_sigusr1(child.pid):
            if time.monotonic() > deadline:
                raise RuntimeError("the stand-in process never ignored SIGUSR1")
            time.sleep(0.002)
        yield child
    finally:
        child.kill()
        child.wait()


@contextlib.contextmanager
def stub_engine(region: SnapshotWriter) -> Iterator[tuple[StubEngine, EngineControl]]:
    """Real command and event rings with a `StubEngine` behind them, and the TUI's
    `EngineControl` attached to them; everything closed and unlinked afterwards.

    The command ring's lock file goes under `XDG_DATA_HOME`: point it at a temporary
    directory first.

    Args:
        region: the snapshot region the stub publishes its latch and mode in.
    """
    instance = f"uitest{uuid.uuid4().hex[:8]}"
    with stand_in_process() as child:
        receiver = CommandReceiver(command_segment_name(instance, child.pid))
        try:
            events = EventWriter(event_segment_name(instance, child.pid))
        except BaseException:
            receiver.close()
            raise
        engine = StubEngine(region, receiver, events)
        info = InstanceInfo(
            instance=instance,
            pid=child.pid,
            shm=region.name,
            started_ns=FROZEN_NS,
            venue="local",
            venue_url="http://127.0.0.1:8080",
            path=Path(os.devnull),
        )
        try:
            control = EngineControl(info)
        except BaseException:
            events.close()
            receiver.close()
            raise
        try:
            engine.publish_header()
            yield engine, control
        finally:
            control.close()
            events.close()
            receiver.close()
