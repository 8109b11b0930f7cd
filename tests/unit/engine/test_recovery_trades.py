"""Recovery's read of the venue's trade list after a crash: page after page from the last
journaled trade id, a self-trade's leg that shares that id included, nothing twice; against
the local exchange's own `userTrades` handler, in process."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hftui.config import Config
from hftui.engine.execution import Execution
from hftui.engine.intents import ClientId
from hftui.engine.journal import Journal
from hftui.engine.recovery import _journal_trade, trades_since
from hftui.protocol import Mode
from tests.unit.engine.test_account import INSTRUMENTS
from tests.unit.exchange.test_self_trade import Desk


@pytest.fixture
def desk() -> Desk:
    """alice's trades: 12 sells to bob, a self-trade (one id, two legs), 5 more sells."""
    d = Desk()
    for run in (12, 5):
        for i in range(run):
            d.limit("alice", "SELL", f"{64001 + i / 10:.1f}", "0.010")
        d.limit("bob", "BUY", "64100.0", f"{Decimal('0.010') * run:.3f}")
        if run == 12:
            d.limit("alice", "BUY", "64000.0", "0.010")
            d.limit("alice", "SELL", "64000.0", "0.010", "NONE")
    return d


def _keys(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(r["id"], r["side"]) for r in rows]


async def _since(desk: Desk, last: int, sides: set[str], page: int) -> list[dict[str, object]]:
    alice = desk.accounts["alice"]

    async def fetch(params: dict[str, str]) -> object:
        return desk.trading.user_trades(alice, params)

    return await trades_since(fetch, "BTCUSDT", last, sides, 1, page)


@pytest.mark.parametrize("page", [2, 3, 5, 1000])
async def test_every_trade_after_the_last_journaled_one_page_by_page(desk: Desk, page: int) -> None:
    trades = desk.accounts["alice"].trades
    assert len(trades) == 19
    last = trades[3]
    rows = await _since(desk, last.trade_id, {last.side}, page)
    assert _keys(rows) == [(t.trade_id, t.side) for t in trades[4:]]


@pytest.mark.parametrize("page", [2, 3, 1000])
async def test_a_self_trades_other_leg_under_the_last_journaled_id_is_found(
    desk: Desk, page: int
) -> None:
    trades = desk.accounts["alice"].trades
    legs = [t for t in trades if sum(u.trade_id == t.trade_id for u in trades) == 2]
    assert sorted(t.side for t in legs) == ["BUY", "SELL"]
    journaled = legs[0]  # the crash came between the two legs' records
    rows = await _since(desk, journaled.trade_id, {journaled.side}, page)
    after = [(t.trade_id, t.side) for t in trades if t.trade_id > journaled.trade_id]
    assert _keys(rows) == [(legs[1].trade_id, legs[1].side), *after]
    # Both legs journaled: only what came after.
    rows = await _since(desk, journaled.trade_id, {"BUY", "SELL"}, page)
    assert _keys(rows) == after


async def test_with_no_trade_journaled_the_trades_since_the_first_order(desk: Desk) -> None:
    rows = await _since(desk, 0, set(), 1000)
    assert len(rows) == 19


def test_a_recovered_fill_of_a_strategys_order_counts_in_its_position_at_once(
    tmp_path: Path,
) -> None:
    # The strategies' positions were rebuilt from the journal before recovery asked the
    # venue: a fill found now must reach the strategy's book, not wait for the next start.
    ex = Execution(Config(), INSTRUMENTS, lambda _: None)
    journal = Journal(tmp_path / "j.sqlite3")
    inst = INSTRUMENTS["BTCUSDT"]
    trade = {"id": 7, "orderId": 3, "side": "BUY", "qty": "0.004", "price": "64000.0"}
    trade |= {"commission": "0.1", "maker": True, "time": 1_000}
    assert _journal_trade(ex, journal, inst, trade, "mm-1", "maker")
    assert _journal_trade(ex, journal, inst, trade | {"id": 8}, "m-2", "manual")
    assert not _journal_trade(ex, journal, inst, trade | {"qty": "lots"}, "mm-1", "maker")
    journal.close()
    assert ex.account.strategy_lots(Mode.LIVE, "maker", "BTCUSDT") == inst.qty_lots("0.004")
    assert ex.account.strategy_lots(Mode.LIVE, "manual", "BTCUSDT") == 0
    fills = Journal(tmp_path / "j.sqlite3")
    fills.close()
    assert [(f.strategy, f.qty) for f in fills.state.strategy_fills] == [("maker", "0.004")]


def _adopted_bid(tmp_path: Path) -> tuple[Execution, Journal, dict[str, object]]:
    """An engine that adopted the maker's open bid maker-k2-9 at start, a journal, and a
    venue trade row of that bid."""
    ex = Execution(Config(), INSTRUMENTS, lambda _: None)
    row = {"symbol": "BTCUSDT", "clientOrderId": "maker-k2-9", "orderId": 3, "side": "BUY"}
    row |= {"type": "LIMIT", "price": "64000.0", "origQty": "0.010", "status": "NEW"}
    row |= {"executedQty": "0", "timeInForce": "GTC"}
    assert ex.adopt(row, "maker") == "maker-k2-9"
    trade: dict[str, object] = {"id": 7, "orderId": 3, "side": "BUY", "qty": "0.004"}
    trade |= {"price": "64000.0", "commission": "0.1", "maker": True, "time": 1_000}
    return ex, Journal(tmp_path / "j.sqlite3"), trade


def test_a_fill_the_stream_brought_during_recovery_counts_once(tmp_path: Path) -> None:
    # Recovery connects the user stream before it asks for trades: an adopted order may
    # fill on the stream first, then show in the trade list too.
    ex, journal, trade = _adopted_bid(tmp_path)
    inst = INSTRUMENTS["BTCUSDT"]
    assert ex.apply_venue_trades(ClientId("maker-k2-9"), [trade]) == 1  # as the stream would
    assert ex.account.strategy_lots(Mode.LIVE, "maker", "BTCUSDT") == inst.qty_lots("0.004")
    assert _journal_trade(ex, journal, inst, trade, "maker-k2-9", "maker")
    assert _journal_trade(ex, journal, inst, trade | {"id": 8}, "maker-k2-9", "maker")
    journal.close()
    assert ex.account.strategy_lots(Mode.LIVE, "maker", "BTCUSDT") == inst.qty_lots("0.008")


def test_a_fill_the_stream_brings_after_recovery_journaled_it_counts_once(
    tmp_path: Path,
) -> None:
    # The other order of the same race: the trade list answered first, then the stream's
    # copy of the same trade arrived. It is no new fill: not for the strategy's position,
    # nor for the account, which recovery took from the venue with the trade in it.
    ex, journal, trade = _adopted_bid(tmp_path)
    inst = INSTRUMENTS["BTCUSDT"]
    assert _journal_trade(ex, journal, inst, trade, "maker-k2-9", "maker")
    assert ex.account.strategy_lots(Mode.LIVE, "maker", "BTCUSDT") == inst.qty_lots("0.004")
    position = ex.account.book(Mode.LIVE, "BTCUSDT").lots
    assert ex.apply_venue_trades(ClientId("maker-k2-9"), [trade]) == 0  # as the stream would
    assert ex.account.strategy_lots(Mode.LIVE, "maker", "BTCUSDT") == inst.qty_lots("0.004")
    assert ex.account.book(Mode.LIVE, "BTCUSDT").lots == position
    assert ex.apply_venue_trades(ClientId("maker-k2-9"), [trade | {"id": 8}]) == 1
    assert ex.account.strategy_lots(Mode.LIVE, "maker", "BTCUSDT") == inst.qty_lots("0.008")
    journal.close()
