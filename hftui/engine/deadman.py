"""The dead-man's switch: which TUI controls the engine, and what happens when it goes quiet.

Owns: the controlling TUI's pid and the time of its last heartbeat, the TUIs that only
watch, and the decision that the controller has gone. Every TUI sends a `Heartbeat` on the
command ring every 0.5 s; the first one that claims control gets it, later ones watch. A
command from a watching TUI is refused (`Reason.READ_ONLY`), except the kill switch, which
is never held back. Senders that never heartbeat (the CLI, scripts) are not TUIs: their
commands are deliberate acts from a shell and always go through.

The switch arms only once a TUI has claimed control, so an engine driven headless by the CLI
is never touched. When the controller's heartbeats stop for `after_s`, `check` reports one
`Lapse` and forgets the controller: the engine then applies the policy (`cancel`: cancel
every order and drop to observe; `keep`: carry on) and says so. A watcher takes control only
deliberately (`TakeControl`), and only once the controller has gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from hftui.engine.execution import Outcome
from hftui.protocol import Command, Heartbeat, Kill, Reason, TakeControl

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DeadMansSwitch", "Lapse", "Policy", "Screening"]

log = logging.getLogger(__name__)

Policy = Literal["cancel", "keep"]


@dataclass(frozen=True, slots=True)
class Lapse:
    """The controlling TUI went quiet."""

    pid: int
    silent_s: float
    policy: Policy

    @property
    def text(self) -> str:
        what = (
            "cancelling every order, dropping to observe"
            if self.policy == "cancel"
            else "policy keep: trading carries on"
        )
        return f"dead-man's switch: TUI pid {self.pid} silent for {self.silent_s:.1f}s; {what}"


@dataclass(frozen=True, slots=True)
class Screening:
    """What to do with one command: hand it on to the controller, and/or answer it here."""

    forward: bool
    answer: Outcome | None = None


_PASS = Screening(forward=True)
_SWALLOW = Screening(forward=False)


class DeadMansSwitch:
    """Args:
    policy: what a lapse does.
    after_s: heartbeats missing for this long make a lapse.
    clock: monotonic seconds (injected in tests).
    wall_ns: wall clock, for the heartbeat time published to readers.
    """

    def __init__(
        self,
        policy: Policy,
        after_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.policy: Policy = policy
        self.after_s = after_s
        self.clock = clock
        self.wall_ns = wall_ns
        self.controller_pid = 0  # 0: no TUI controls the engine
        self.previous_pid = 0  # the controller that went quiet last
        self.last_beat = 0.0
        self.last_beat_ns = 0
        self.watchers: dict[int, float] = {}  # pid -> monotonic time of its last heartbeat
        self.lapses = 0
        # The controller's event reader at its last heartbeat: events read (its cursor) and
        # lost to overruns, as it reported them.
        self.reader_read = 0
        self.reader_overruns = 0

    # ---- commands -------------------------------------------------------------------------

    def screen(self, sender: int, command: Command) -> Screening:
        """Heartbeats and take-control are handled here; a watcher's trading command is
        refused; everything else goes on to the controller."""
        match command:
            case Heartbeat():
                self.beat(sender, command.claim)
                if sender == self.controller_pid:
                    self.reader_read, self.reader_overruns = command.read, command.overruns
                return _SWALLOW
            case TakeControl():
                return Screening(forward=False, answer=self.take_control(sender))
            case Kill():
                return _PASS  # the kill is never held back, whoever presses it
        if self.is_watcher(sender):
            return Screening(forward=False, answer=Outcome(Reason.READ_ONLY, self.read_only_text))
        return _PASS

    def beat(self, pid: int, claim: bool) -> None:
        """A heartbeat from TUI `pid`."""
        now = self.clock()
        if pid == self.controller_pid:
            self._stamp(now)
        elif self.controller_pid == 0 and claim:
            self._promote(pid, now)
        else:
            self.watchers[pid] = now

    def take_control(self, pid: int) -> Outcome:
        """A watcher asks for control: granted once the controller has gone."""
        if pid == self.controller_pid:
            return Outcome(Reason.OK, "this TUI already controls the engine")
        if self.controller_pid:
            silent = self.clock() - self.last_beat
            text = (
                f"TUI pid {self.controller_pid} still controls this engine "
                f"(heartbeat {silent:.1f}s ago); it must quit or go quiet first"
            )
            return Outcome(Reason.READ_ONLY, text)
        self._promote(pid, self.clock())
        return Outcome(Reason.OK, f"TUI pid {pid} controls the engine")

    def is_watcher(self, pid: int) -> bool:
        """`pid` is a TUI that heartbeats without control (lately)."""
        seen = self.watchers.get(pid)
        return seen is not None and self.clock() - seen < self.after_s

    @property
    def read_only_text(self) -> str:
        if self.controller_pid:
            return f"read-only: another TUI (pid {self.controller_pid}) controls this engine"
        return (
            f"read-only: the TUI in control (pid {self.previous_pid}) has gone; "
            "take control first (T)"
        )

    # ---- the clock ------------------------------------------------------------------------

    def check(self) -> Lapse | None:
        """The lapse, once, when the controller's heartbeats have stopped; None otherwise."""
        now = self.clock()
        for pid, seen in list(self.watchers.items()):
            if now - seen >= self.after_s:
                del self.watchers[pid]  # a watcher that left: its pid may be reused
        if not self.controller_pid:
            return None
        silent = now - self.last_beat
        if silent < self.after_s:
            return None
        lapse = Lapse(self.controller_pid, silent, self.policy)
        self.previous_pid, self.controller_pid = self.controller_pid, 0
        self.lapses += 1
        return lapse

    def heartbeat_age_s(self) -> float | None:
        """Seconds since the controller's last heartbeat; None while no TUI controls."""
        return self.clock() - self.last_beat if self.controller_pid else None

    def write(self, header: np.ndarray) -> None:
        """Publish the switch's state into the snapshot header (inside its seqlock)."""
        header["tui_pid"] = self.controller_pid
        header["tui_heartbeat_ns"] = self.last_beat_ns if self.controller_pid else 0
        header["dead_man_cancel"] = 1 if self.policy == "cancel" else 0
        header["dead_man_after_ms"] = round(self.after_s * 1000)

    def _promote(self, pid: int, now: float) -> None:
        self.controller_pid = pid
        self.watchers.pop(pid, None)
        self._stamp(now)
        log.info("TUI in control", extra={"tui_pid": pid, "dead_man": self.policy})

    def _stamp(self, now: float) -> None:
        self.last_beat = now
        self.last_beat_ns = self.wall_ns()
