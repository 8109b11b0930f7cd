"""`[strategies] enabled` changed under a running host: a newly listed strategy is loaded and
started, one no longer listed is stopped (on_stop, its open orders cancelled through
execution) and leaves the host, while the account keeps its P&L books."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from hftui.engine.intents import ClientId
from hftui.protocol import Mode, OrderStatus, PauseStrategy, Reason, ReloadStrategy
from tests.unit.strategy.rig import BTC_MID, Rig, ladder, make_rig
from tests.unit.strategy.test_host import HEADER, write

# Keeps one bid working far below the touch and a second one it cancels itself in on_stop.
RESTER = (
    HEADER
    + """
@dataclass(frozen=True, slots=True)
class ResterParams(Params):
    depth: int = 50

class Rester(Strategy[ResterParams]):
    params_type = ResterParams

    def on_start(self) -> None:
        self.books = 0
        self.kept = ""
        self.own = ""
        self.stopped = 0

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        self.books += 1
        if not self.kept and symbol == "BTCUSDT":
            price = book.best_bid() - self.params.depth
            self.kept = self.ctx.place(symbol, Side.BUY, 2, price, TimeInForce.GTX)
            self.own = self.ctx.place(symbol, Side.BUY, 2, price - 1, TimeInForce.GTX)

    def on_stop(self) -> None:
        self.stopped += 1
        self.ctx.cancel(self.own)
"""
)


def test_enabling_and_disabling_live(tmp_path: Path) -> None:
    write(tmp_path, "rester", RESTER)
    write(tmp_path, "other", RESTER)

    async def run() -> None:
        rig = make_rig(("other",), tmp_path, mode=Mode.PAPER)
        book = ladder("BTCUSDT", BTC_MID, 50, 50)
        rig.feed(book, 1)
        config = dataclasses.replace(
            rig.host.config, enabled=("other", "rester"), params=(("rester", (("depth", 70),)),)
        )
        done = rig.host.set_enabled(config)
        assert [d.split(" from ")[0] for d in done] == ["strategy rester started"]
        slot = rig.host.slots["rester"]
        assert slot.state == "running"
        strategy = slot.strategy
        assert strategy is not None
        assert getattr(strategy.params, "depth") == 70  # noqa: B009  the new config's value
        rig.feed(book, 2)
        assert slot.context is not None
        orders = slot.context.open_orders()
        assert len(orders) == 2
        for cid in orders:
            order = rig.execution.tracker.get(ClientId(cid))
            assert order is not None
            assert order.intent.price == BTC_MID - 70 or order.intent.price == BTC_MID - 71
        assert rig.host.command(PauseStrategy("rester")).ok  # commands reach it at once
        assert rig.host.resume("rester").ok

        # Off again: on_stop runs, both orders are cancelled (the one on_stop cancelled is
        # not asked twice), and it is gone from the host and its figures.
        done = rig.host.set_enabled(dataclasses.replace(config, enabled=("other",), params=()))
        assert done == ["strategy rester stopped and unloaded; 2 open orders cancelled"]
        assert getattr(strategy, "stopped") == 1  # noqa: B009
        assert "rester" not in rig.host.slots
        assert [f.name for f in rig.host.figures({}, lambda _: (0.0, 0.0, 0.0))] == ["other"]
        for _ in range(100):
            if all(_status(rig, cid) == OrderStatus.CANCELED for cid in orders):
                break
            await asyncio.sleep(0.01)
        assert [_status(rig, cid) for cid in orders] == [OrderStatus.CANCELED] * 2
        assert rig.host.command(PauseStrategy("rester")).reason == Reason.NOT_FOUND
        assert rig.host.command(ReloadStrategy("rester")).reason == Reason.NOT_FOUND
        rig.feed(book, 3)
        assert getattr(strategy, "books") == 1  # noqa: B009  no longer fed
        other = rig.host.slots["other"]
        assert getattr(other.strategy, "books") == 3  # noqa: B009  the other one went on
        assert other.context is not None
        assert len(other.context.open_orders()) == 2
        assert any("strategy rester stopped and unloaded" in a for a in rig.alerts())

    asyncio.run(run())


TAKER = (
    HEADER
    + """
class Taker(Strategy[Params]):
    def on_start(self) -> None:
        self.sent = 0

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        if self.sent == 0:
            self.sent = 1
            self.ctx.place(symbol, Side.BUY, 3, book.best_ask(), TimeInForce.IOC)
        elif self.sent == 1 and self.ctx.position(symbol) == 3:
            self.sent = 2
            self.ctx.place(symbol, Side.SELL, 3, book.best_bid(), TimeInForce.IOC)
"""
)


def test_a_disabled_strategys_pnl_book_is_kept_and_shown_when_it_returns(
    tmp_path: Path,
) -> None:
    write(tmp_path, "taker", TAKER)

    async def run() -> None:
        rig = make_rig(("taker",), tmp_path, mode=Mode.PAPER)
        book = ladder("BTCUSDT", BTC_MID, 50, 50)
        rig.execution.paper.see_book("BTCUSDT", book)
        account = rig.execution.account
        for step in range(200):  # bought, then sold back across the spread: a realized loss
            rig.feed(book, step + 1)
            if account.strategy_pnl(Mode.PAPER, "taker", {})[0] < 0:
                break
            await asyncio.sleep(0.01)
        before = account.strategy_pnl(Mode.PAPER, "taker", {})
        assert before[0] < 0
        config = rig.host.config
        rig.host.set_enabled(dataclasses.replace(config, enabled=()))
        assert rig.host.slots == {}
        assert account.strategy_pnl(Mode.PAPER, "taker", {}) == before
        rig.host.set_enabled(config)
        context = rig.host.slots["taker"].context
        assert context is not None
        assert context.position("BTCUSDT") == 0  # its own fills: bought 3, sold 3
        assert context.fills == 2
        figures = rig.host.figures({}, lambda name: account.strategy_pnl(Mode.PAPER, name, {}))
        assert [(f.name, f.state, f.realized) for f in figures] == [("taker", "running", before[0])]

    asyncio.run(run())


def test_a_newly_enabled_strategy_without_a_file_is_listed_as_failed(tmp_path: Path) -> None:
    rig = make_rig((), tmp_path)
    done = rig.host.set_enabled(dataclasses.replace(rig.host.config, enabled=("ghost",)))
    assert len(done) == 1
    assert "no file ghost.py" in done[0]
    assert rig.host.status()[0]["state"] == "failed"
    assert rig.host.set_enabled(dataclasses.replace(rig.host.config, enabled=())) == [
        "strategy ghost stopped and unloaded"
    ]


def _status(rig: Rig, cid: str) -> OrderStatus | None:
    order = rig.execution.tracker.get(ClientId(cid))
    return None if order is None else order.status
