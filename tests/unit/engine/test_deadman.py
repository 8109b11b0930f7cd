"""The dead-man's switch on a fake clock: who controls, who watches, when it fires."""

from __future__ import annotations

import numpy as np
import pytest

from hftui.engine.deadman import DeadMansSwitch, Policy
from hftui.protocol import (
    HEADER_DTYPE,
    CancelAll,
    Heartbeat,
    Kill,
    PlaceOrder,
    Reason,
    Side,
    TakeControl,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


TUI, OTHER, CLI = 1001, 1002, 1003
PLACE = PlaceOrder("BTCUSDT", Side.BUY, "0.010", "60000.0")


def switch(policy: Policy = "cancel", after_s: float = 3.0) -> tuple[DeadMansSwitch, Clock]:
    clock = Clock()
    return DeadMansSwitch(policy, after_s, clock=clock, wall_ns=lambda: 5_000), clock


def test_a_headless_engine_is_never_armed() -> None:
    dead_man, clock = switch()
    assert dead_man.screen(CLI, PLACE).forward
    clock.now += 3600
    assert dead_man.check() is None
    assert dead_man.heartbeat_age_s() is None


def test_the_first_claiming_tui_controls_and_heartbeats_are_swallowed() -> None:
    dead_man, clock = switch()
    screening = dead_man.screen(TUI, Heartbeat(claim=True))
    assert not screening.forward
    assert screening.answer is None
    assert dead_man.controller_pid == TUI
    clock.now += 1.0
    assert dead_man.heartbeat_age_s() == pytest.approx(1.0)
    assert dead_man.screen(TUI, PLACE).forward


@pytest.mark.parametrize("policy", ["cancel", "keep"])
def test_a_lapse_fires_once_after_the_timeout(policy: Policy) -> None:
    dead_man, clock = switch(policy)
    dead_man.screen(TUI, Heartbeat())
    for _ in range(5):  # beats every 0.5 s keep it quiet
        clock.now += 0.5
        dead_man.screen(TUI, Heartbeat())
        assert dead_man.check() is None
    clock.now += 2.9
    assert dead_man.check() is None
    clock.now += 0.2
    lapse = dead_man.check()
    assert lapse is not None
    assert (lapse.pid, lapse.policy) == (TUI, policy)
    assert lapse.silent_s == pytest.approx(3.1)
    assert str(TUI) in lapse.text
    assert dead_man.controller_pid == 0
    clock.now += 10
    assert dead_man.check() is None  # once


def test_a_second_tui_watches_and_its_trading_commands_are_refused() -> None:
    dead_man, _ = switch()
    dead_man.screen(TUI, Heartbeat())
    dead_man.screen(OTHER, Heartbeat(claim=True))  # too late: it watches
    assert dead_man.controller_pid == TUI
    for command in (PLACE, CancelAll("")):
        screening = dead_man.screen(OTHER, command)
        assert not screening.forward
        assert screening.answer is not None
        assert screening.answer.reason is Reason.READ_ONLY
        assert f"another TUI (pid {TUI}) controls" in screening.answer.text
    assert dead_man.screen(OTHER, Kill()).forward  # the kill is never held back
    assert dead_man.screen(CLI, PLACE).forward  # a shell is not a TUI


def test_a_watcher_takes_control_only_once_the_controller_has_gone() -> None:
    dead_man, clock = switch()
    dead_man.screen(TUI, Heartbeat())
    dead_man.screen(OTHER, Heartbeat(claim=False))
    refused = dead_man.screen(OTHER, TakeControl()).answer
    assert refused is not None
    assert refused.reason is Reason.READ_ONLY
    clock.now += 2.0
    dead_man.screen(OTHER, Heartbeat(claim=False))
    clock.now += 1.5
    assert dead_man.check() is not None
    # Gone, but a watcher does not slide into control by itself.
    dead_man.screen(OTHER, Heartbeat(claim=False))
    assert dead_man.controller_pid == 0
    answer = dead_man.screen(OTHER, PLACE).answer
    assert answer is not None
    assert "has gone" in answer.text
    granted = dead_man.screen(OTHER, TakeControl()).answer
    assert granted is not None
    assert granted.ok
    assert dead_man.controller_pid == OTHER
    assert dead_man.screen(OTHER, PLACE).forward


def test_a_tui_that_stalled_claims_control_again() -> None:
    dead_man, clock = switch()
    dead_man.screen(TUI, Heartbeat())
    clock.now += 5
    assert dead_man.check() is not None
    dead_man.screen(TUI, Heartbeat(claim=True))
    assert dead_man.controller_pid == TUI


def test_a_watcher_that_left_is_forgotten() -> None:
    dead_man, clock = switch()
    dead_man.screen(TUI, Heartbeat())
    dead_man.screen(OTHER, Heartbeat(claim=False))
    clock.now += 3.5
    dead_man.screen(TUI, Heartbeat())
    dead_man.check()
    assert OTHER not in dead_man.watchers
    assert dead_man.screen(OTHER, PLACE).forward  # its pid may now be anyone's


def test_the_header_carries_policy_controller_and_heartbeat() -> None:
    dead_man, _ = switch("keep", 2.5)
    header = np.zeros((), HEADER_DTYPE)
    dead_man.write(header)
    assert (int(header["tui_pid"]), int(header["tui_heartbeat_ns"])) == (0, 0)
    dead_man.screen(TUI, Heartbeat())
    dead_man.write(header)
    assert int(header["tui_pid"]) == TUI
    assert int(header["tui_heartbeat_ns"]) == 5_000
    assert int(header["dead_man_cancel"]) == 0
    assert int(header["dead_man_after_ms"]) == 2500


def test_the_controllers_event_reader_figures_are_kept_a_watchers_are_not() -> None:
    dead_man, _ = switch()
    dead_man.screen(TUI, Heartbeat(True, 500, 3))
    dead_man.screen(OTHER, Heartbeat(True, 9_999, 77))  # a watcher: not the one exported
    assert (dead_man.reader_read, dead_man.reader_overruns) == (500, 3)
    dead_man.screen(TUI, Heartbeat(True, 640, 3))
    assert dead_man.reader_read == 640
