"""Tick-to-order and round-trip bookkeeping (`OrderTimings`), driven as the engine drives it:
the strategy host sets the trigger, execution hands orders over and applies answers."""

from __future__ import annotations

import time
from pathlib import Path

from hftui.engine.intents import Lots, OrderIntent, Ticks
from hftui.engine.metrics import RECENT_SAMPLES, OrderTimings
from hftui.protocol import Mode, Reason, Side
from tests.unit.strategy.rig import BTC_MID, ladder, make_rig
from tests.unit.strategy.test_host import COUNTER, write


def test_only_orders_placed_while_a_frame_is_handled_have_a_tick_to_order() -> None:
    timings = OrderTimings()
    timings.trigger_ns = 1_000_000  # a strategy callback runs for a frame received then
    timings.handed("s1", 1_040_000)  # a paper order, handed over 40 µs after receipt
    timings.trigger_ns = 0
    timings.handed("manual", 5_000_000)  # a command between frames: no trigger
    assert timings.tick_to_order.count == 1
    assert timings.tick_to_order.sum_ns == 40_000
    assert timings.recent_quantiles() == (40_000, 40_000, 1)

    # Both orders have a round trip once answered; an answer counts once.
    timings.settle("s1", True, False, 1_040_000 + 250_000)
    timings.settle("s1", True, False, 9_000_000)
    timings.settle("manual", True, True, 5_000_000 + 1_000_000)
    assert timings.round_trip.count == 2
    assert timings.round_trip.sum_ns == 1_250_000


def test_a_live_order_keeps_its_trigger_until_its_send_task_hands_it_over() -> None:
    timings = OrderTimings()
    timings.trigger_ns = 2_000_000
    timings.defer("live1")  # the send runs later, in its own task
    timings.trigger_ns = 0
    timings.handed("live1", 2_500_000)  # after the frame: the deferred trigger counts
    assert timings.tick_to_order.count == 1
    assert timings.tick_to_order.sum_ns == 500_000
    # Refused before it left: forgotten, no round trip.
    timings.trigger_ns = 3_000_000
    timings.defer("live2")
    timings.trigger_ns = 0
    timings.settle("live2", False, True, 4_000_000)
    assert timings.round_trip.count == 0


async def test_the_strategy_host_sets_the_trigger_around_its_callbacks_only(tmp_path: Path) -> None:
    # A real host over a real execution in paper: the strategy's order has a tick-to-order
    # measured from the frame's receive time, a manual order placed after it has none.
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))
    rig = make_rig(("good",), tmp_path, mode=Mode.PAPER)
    timings = rig.execution.timings
    received = time.time_ns()
    rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), received)
    assert timings.trigger_ns == 0
    assert timings.tick_to_order.count == 1
    assert 0 <= timings.tick_to_order.sum_ns < time.time_ns() - received + 1
    manual = OrderIntent("BTCUSDT", Side.BUY, Lots(2), Ticks(BTC_MID - 60))
    assert rig.execution.place(manual).reason == Reason.OK
    assert timings.tick_to_order.count == 1


def test_recent_quantiles_cover_the_last_samples_only() -> None:
    timings = OrderTimings()
    assert timings.recent_quantiles() == (0, 0, 0)
    for k in range(RECENT_SAMPLES):
        timings.trigger_ns = 1
        timings.handed(f"old{k}", 1 + 1_000_000)  # 1 ms each
    for k in range(RECENT_SAMPLES):
        timings.trigger_ns = 1
        timings.handed(f"new{k}", 1 + (k + 1) * 1_000)  # 1 µs .. 256 µs
    timings.trigger_ns = 0
    p50, p99, n = timings.recent_quantiles()
    assert n == RECENT_SAMPLES
    assert p50 == 129_000  # the older, slower samples fell out of the window
    assert p99 == 254_000
    assert timings.tick_to_order.count == 2 * RECENT_SAMPLES
