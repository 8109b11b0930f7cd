"""Intents are routed when the hook returns: in order, never from a hook that failed or
overran, with client ids usable inside the hook, and outside the hook's time budget."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from hftui.engine.execution import Outcome
from hftui.engine.intents import ClientId, OrderIntent
from hftui.protocol import Mode, Reason
from tests.unit.strategy.rig import BTC_MID, Rig, ladder, make_rig
from tests.unit.strategy.test_host import HEADER, write

SCRIPTED = (
    HEADER
    + """
@dataclass(frozen=True, slots=True)
class ScriptParams(Params):
    script: str = "two"
    qty: int = 2

class Scripted(Strategy[ScriptParams]):
    params_type = ScriptParams
    timer_interval_s = 0.0

    def on_start(self) -> None:
        self.done = False
        self.ids = []
        self.seen_open = []

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        if self.done or symbol != "BTCUSDT":
            return
        self.done = True
        ctx, script, bid = self.ctx, self.params.script, book.best_bid()
        if script == "float":  # lots as a float: a bug in the strategy, said at the call
            ctx.place(symbol, Side.BUY, 2, bid - 50)
            ctx.place(symbol, Side.BUY, self.params.qty / 2, bid - 50)
        first = ctx.place(symbol, Side.BUY, self.params.qty, bid - 50)
        self.ids.append(first)
        self.seen_open.append(ctx.is_open(first))
        if script == "two":
            self.ids.append(ctx.place(symbol, Side.SELL, 2, bid + 60))
        elif script == "raise":
            raise ValueError("half a decision")
        elif script == "cancel":
            self.seen_open.append(ctx.cancel(first))
            self.seen_open.append(ctx.is_open(first))
        elif script == "replace":
            self.ids.append(ctx.replace(first, bid - 70))
            self.seen_open.append(ctx.is_open(first))
"""
)


def scripted_rig(tmp_path: Path, script: str, qty: int = 2, **settings: Any) -> Rig:
    write(tmp_path, "scripted", SCRIPTED)
    params = (("scripted", (("script", script), ("qty", qty))),)
    return make_rig(("scripted",), tmp_path, mode=Mode.PAPER, params=params, **settings)


def open_prices(rig: Rig) -> list[int]:
    return sorted(o.intent.price for o in rig.execution.tracker.open_orders())


def test_intents_go_out_in_order_after_the_hook_with_the_ids_it_was_given(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        rig = scripted_rig(tmp_path, "two")
        sent: list[str] = []
        place = rig.execution.place

        def recording(
            intent: OrderIntent, on_done: object = None, client_id: ClientId | None = None
        ) -> Outcome:
            sent.append(f"{intent.side.name} {client_id}")
            return place(intent, None, client_id)

        rig.execution.place = recording  # type: ignore[method-assign]
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        strategy = rig.host.slots["scripted"].strategy
        ids = getattr(strategy, "ids")  # noqa: B009
        assert getattr(strategy, "seen_open") == [True]  # noqa: B009  # open inside the hook
        assert all(ids)
        assert ids[0] != ids[1]
        assert sent == [f"BUY {ids[0]}", f"SELL {ids[1]}"]
        assert [o.client_id for o in rig.execution.tracker.open_orders()] == ids
        context = rig.host.slots["scripted"].context
        assert context is not None
        assert context.open_orders() == ids
        assert context.intents == 2
        assert rig.host.queue == []

    asyncio.run(run())


def test_a_hook_that_raises_sends_none_of_its_intents(tmp_path: Path) -> None:
    async def run() -> None:
        rig = scripted_rig(tmp_path, "raise")
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        slot = rig.host.slots["scripted"]
        assert slot.paused
        assert "half a decision" in slot.why
        assert rig.execution.tracker.open_orders() == []
        assert rig.execution.orders_sent == 0
        assert slot.context is not None
        assert slot.context.open_orders() == []
        assert rig.host.queue == []

    asyncio.run(run())


def test_an_order_cancelled_in_the_hook_that_placed_it_is_never_sent(tmp_path: Path) -> None:
    async def run() -> None:
        rig = scripted_rig(tmp_path, "cancel")
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        strategy = rig.host.slots["scripted"].strategy
        # open after place, the cancel accepted, then no longer open
        assert getattr(strategy, "seen_open") == [True, True, False]  # noqa: B009
        assert rig.execution.orders_sent == 0
        assert rig.host.slots["scripted"].context.intents == 0  # type: ignore[union-attr]

    asyncio.run(run())


def test_an_order_replaced_in_the_hook_that_placed_it_goes_out_once_at_the_new_price(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        rig = scripted_rig(tmp_path, "replace")
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        strategy = rig.host.slots["scripted"].strategy
        first, second = getattr(strategy, "ids")  # noqa: B009
        assert second
        assert second != first
        assert getattr(strategy, "seen_open") == [True, False]  # noqa: B009
        assert rig.execution.orders_sent == 1
        assert open_prices(rig) == [BTC_MID - 70]

    asyncio.run(run())


def test_an_order_risk_refuses_gets_an_id_that_never_opens(tmp_path: Path) -> None:
    async def run() -> None:
        rig = scripted_rig(tmp_path, "one", qty=1000)  # 1 BTC: 64,000 USDT, over the cap
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        strategy = rig.host.slots["scripted"].strategy
        context = rig.host.slots["scripted"].context
        assert context is not None
        (cid,) = getattr(strategy, "ids")  # noqa: B009
        assert cid
        assert not context.is_open(cid)
        assert context.last_reason == Reason.MAX_NOTIONAL
        assert rig.execution.refusals == 1
        assert rig.execution.orders_sent == 0
        assert rig.execution.tracker.get(ClientId(cid)) is None

    asyncio.run(run())


def test_the_budget_times_the_decision_not_the_routing(tmp_path: Path) -> None:
    # Execution slowed to 30 ms an order against a 5 ms budget: the hook is within it.
    async def run() -> None:
        rig = scripted_rig(tmp_path, "two", callback_budget_ms=5.0)
        place = rig.execution.place

        def slow(
            intent: OrderIntent, on_done: object = None, client_id: ClientId | None = None
        ) -> Outcome:
            time.sleep(0.03)
            return place(intent, None, client_id)

        rig.execution.place = slow  # type: ignore[method-assign]
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        slot = rig.host.slots["scripted"]
        assert not slot.paused
        assert slot.overruns == 0
        assert rig.execution.orders_sent == 2
        assert slot.book_latency.quantile_ns(1.0) < 5_000_000

    asyncio.run(run())


def test_lots_that_are_not_an_int_pause_the_strategy_at_the_call(tmp_path: Path) -> None:
    async def run() -> None:
        rig = scripted_rig(tmp_path, "float")
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        slot = rig.host.slots["scripted"]
        assert slot.paused
        assert "on_book raised TypeError: place('BTCUSDT', <Side.BUY: 1>, 1.0" in slot.why
        assert "int lots and ticks" in slot.why
        assert rig.execution.orders_sent == 0  # not even the good intent before it

    asyncio.run(run())


def test_an_intent_execution_cannot_route_pauses_its_strategy_not_the_feed(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        rig = scripted_rig(tmp_path, "two")

        def broken(
            intent: OrderIntent, on_done: object = None, client_id: ClientId | None = None
        ) -> Outcome:
            raise RuntimeError("execution fault")

        rig.execution.place = broken  # type: ignore[method-assign]
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)  # returns: nothing escapes
        slot = rig.host.slots["scripted"]
        assert slot.paused
        assert slot.why == "an intent's routing raised RuntimeError: execution fault"
        assert slot.errors == 1
        assert rig.host.queue == []  # its second intent was dropped with the pause
        assert slot.context is not None
        assert slot.context.open_orders() == []

    asyncio.run(run())
