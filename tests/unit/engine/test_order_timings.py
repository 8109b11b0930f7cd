"""Tick-to-order and round-trip bookkeeping (`OrderTimings`), driven as the engine drives it:
the frame hooks set the trigger, execution hands orders over and applies answers."""

from __future__ import annotations

from hftui.engine.book import OrderBook
from hftui.engine.metrics import RECENT_SAMPLES, OrderTimings


def test_only_orders_placed_while_a_frame_is_handled_have_a_tick_to_order() -> None:
    timings = OrderTimings()
    placed: list[int] = []

    def strategy(symbol: str, book: OrderBook, now_ns: int) -> None:
        # A strategy placing a paper order from on_book: handed over 40 µs after receipt.
        placed.append(timings.trigger_ns)
        timings.handed("s1", now_ns + 40_000)

    hook = timings.wrap_book(strategy)
    hook("BTCUSDT", OrderBook("BTCUSDT", "0.10", "0.001"), 1_000_000)
    assert placed == [1_000_000]
    assert timings.trigger_ns == 0  # reset after the frame
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

    def on_trade(symbol: str, price: int, qty: int, buyer_maker: bool, now_ns: int) -> None:
        timings.defer("live1")  # the send runs later, in its own task

    timings.wrap_trade(on_trade)("ETHUSDT", 1, 1, False, 2_000_000)
    timings.handed("live1", 2_500_000)  # after the frame: the deferred trigger counts
    assert timings.tick_to_order.count == 1
    assert timings.tick_to_order.sum_ns == 500_000
    # Refused before it left: forgotten, no round trip.
    timings.wrap_trade(on_trade)("ETHUSDT", 1, 1, False, 3_000_000)
    timings.settle("live1", False, True, 4_000_000)
    assert timings.round_trip.count == 0


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
