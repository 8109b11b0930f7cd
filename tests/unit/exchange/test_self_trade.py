"""Self-trade prevention on the local exchange: each selfTradePreventionMode against the
account's own resting order, and the venue's one trade id for both legs of a match."""

from __future__ import annotations

import pytest

from hftui.exchange.accounts import Account
from hftui.exchange.book import BUY, SELL, MatchingBook
from hftui.exchange.errors import VenueError
from hftui.exchange.streams import StreamHub
from hftui.exchange.trading import Trading
from hftui.exchange.venue import Venue

Event = dict[str, object]


class Desk:
    """One symbol with its synthetic liquidity cleared, and two accounts' order events."""

    def __init__(self) -> None:
        self.venue = Venue(("BTCUSDT",), 1, StreamHub())
        self.book: MatchingBook = self.venue.symbols["BTCUSDT"].book
        for side in (BUY, SELL):
            for tick, _ in self.book.depth(side, 10_000):
                for order in list(self.book.orders_at(side, tick)):
                    self.book.reduce(order.order_id, order.lots)
        self.accounts = {k: Account(k, b"s") for k in ("alice", "bob")}
        self.events: list[tuple[str, Event]] = []
        self.trading = Trading(self.venue, self.accounts, lambda: 1_700_000_000_000, self._got)

    def _got(self, account: Account, event: Event) -> None:
        if event["e"] == "ORDER_TRADE_UPDATE":
            order = event["o"]
            assert isinstance(order, dict)
            self.events.append((account.api_key, order))

    def limit(self, who: str, side: str, price: str, qty: str, stp: str | None = None) -> Event:
        params = {
            "symbol": "BTCUSDT",
            "side": side,
            "type": "LIMIT",
            "timeInForce": "GTC",
            "price": price,
            "quantity": qty,
            "newOrderRespType": "RESULT",
        }
        if stp is not None:
            params["selfTradePreventionMode"] = stp
        return self.trading.new_order(self.accounts[who], params)

    def ended(self, who: str, order_id: object) -> list[tuple[object, object, object]]:
        return [
            (o["x"], o["X"], o["er"]) for k, o in self.events if k == who and o["i"] == order_id
        ][1:]


@pytest.fixture
def desk() -> Desk:
    d = Desk()
    d.limit("alice", "SELL", "64001.0", "0.010")
    d.limit("bob", "SELL", "64001.1", "0.010")
    return d


def test_none_trades_with_itself_and_both_legs_carry_one_trade_id(desk: Desk) -> None:
    taker = desk.limit("alice", "BUY", "64001.1", "0.020", "NONE")
    assert taker["status"] == "FILLED"
    trades = desk.accounts["alice"].trades
    own = [t for t in trades if t.price == trades[0].price]
    assert sorted((t.side, t.maker) for t in own) == [("BUY", False), ("SELL", True)]
    assert own[0].trade_id == own[1].trade_id
    bob = desk.accounts["bob"].trades
    assert [t.trade_id for t in bob] == [t.trade_id for t in trades if t not in own]
    # Bought 0.020 (half of it from herself), sold 0.010: the self-trade nets out.
    assert str(desk.accounts["alice"].position("BTCUSDT").amount) == "0.010"


def test_expire_maker_takes_the_own_order_off_the_book_and_trades_on(desk: Desk) -> None:
    resting = desk.accounts["alice"].open_orders()[0]
    taker = desk.limit("alice", "BUY", "64001.1", "0.020", "EXPIRE_MAKER")
    assert taker["status"] == "PARTIALLY_FILLED"  # 0.010 from bob, the rest resting
    assert taker["selfTradePreventionMode"] == "EXPIRE_MAKER"
    assert resting.status == "EXPIRED_IN_MATCH"
    assert desk.ended("alice", resting.order_id) == [("EXPIRED", "EXPIRED_IN_MATCH", "1")]
    assert desk.book.order(resting.order_id) is None
    assert [(t.side, t.maker) for t in desk.accounts["alice"].trades] == [("BUY", False)]
    assert desk.book.best(BUY) == 640011  # the taker's rest, as a bid
    assert desk.book.best(SELL) is None


def test_expire_taker_ends_the_incoming_order_and_leaves_the_own_one(desk: Desk) -> None:
    resting = desk.accounts["alice"].open_orders()[0]
    taker = desk.limit("alice", "BUY", "64001.1", "0.020", "EXPIRE_TAKER")
    assert taker["status"] == "EXPIRED_IN_MATCH"
    assert desk.ended("alice", taker["orderId"]) == [("EXPIRED", "EXPIRED_IN_MATCH", "1")]
    assert resting.status == "NEW"
    assert desk.book.order(resting.order_id) is not None
    assert desk.accounts["alice"].trades == []
    assert desk.book.best(BUY) is None


def test_expire_both_ends_both_orders(desk: Desk) -> None:
    resting = desk.accounts["alice"].open_orders()[0]
    taker = desk.limit("alice", "BUY", "64001.1", "0.020", "EXPIRE_BOTH")
    assert taker["status"] == "EXPIRED_IN_MATCH"
    assert resting.status == "EXPIRED_IN_MATCH"
    assert desk.accounts["alice"].trades == []
    assert desk.book.best(SELL) == 640011  # bob's, untouched behind them


def test_another_accounts_order_is_never_prevented(desk: Desk) -> None:
    taker = desk.limit("bob", "BUY", "64001.0", "0.010", "EXPIRE_BOTH")
    assert taker["status"] == "FILLED"
    assert desk.accounts["alice"].position("BTCUSDT").amount < 0


def test_an_unknown_mode_is_refused_and_leaves_nothing(desk: Desk) -> None:
    before = len(desk.accounts["alice"].orders)
    with pytest.raises(VenueError) as refused:
        desk.limit("alice", "BUY", "64001.1", "0.020", "EXPIRE_NOBODY")
    assert refused.value.code == -1102
    assert "selfTradePreventionMode" in refused.value.msg
    assert len(desk.accounts["alice"].orders) == before
