"""Accounting invariants of the local exchange under random trading, checked by hypothesis."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.exchange.accounts import (
    ENTRY_QUANTUM,
    MAKER_FEE,
    START_BALANCE,
    TAKER_FEE,
    Account,
    Trade,
    money,
)
from hftui.exchange.book import BUY, SELL, STP_MODES
from hftui.exchange.errors import VenueError
from hftui.exchange.streams import StreamHub
from hftui.exchange.trading import Trading
from hftui.exchange.venue import Venue

order_action = st.tuples(
    st.just("order"),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["LIMIT", "MARKET"]),
    st.sampled_from(["GTC", "IOC", "FOK", "GTX"]),
    st.integers(2, 400),  # lots of 0.001 (>= the 100 USDT minimum); big ones sweep levels
    st.integers(-3, 3),  # ticks from our side's touch: resting near it, or crossing
    st.sampled_from([False, False, False, True]),  # reduce-only, now and then
    st.sampled_from(STP_MODES),  # what meeting the account's own resting order does
)
flow_action = st.tuples(st.just("flow"), st.integers(5, 80))  # may fill our resting orders
action = st.one_of(
    order_action,
    order_action,
    flow_action,
    flow_action,
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("funding")),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(action, min_size=5, max_size=60), st.integers(0, 1000))
def test_books_positions_fees_and_wallets_add_up(
    script: list[tuple[object, ...]], seed: int
) -> None:
    clock = [1_700_000_000_000]
    venue = Venue(("BTCUSDT",), seed, StreamHub())
    accounts = {k: Account(k, b"s") for k in ("alice", "bob")}
    funding: dict[str, Decimal] = {k: Decimal(0) for k in accounts}

    def publish(account: Account, event: dict[str, object]) -> None:
        update = event.get("a")
        is_account = event["e"] == "ACCOUNT_UPDATE" and isinstance(update, dict)
        if is_account and isinstance(update, dict) and update["m"] == "FUNDING_FEE":
            funding[account.api_key] += Decimal(str(update["B"][0]["bc"]))

    trading = Trading(venue, accounts, lambda: clock[0], publish)
    symbol = venue.symbols["BTCUSDT"]
    spec = symbol.spec
    for step, act in enumerate(script):
        clock[0] += 1000
        who = accounts["alice" if step % 2 == 0 else "bob"]
        if act[0] == "order":
            _, side, kind, tif, lots, offset, reduce_only, stp = act
            touch = symbol.book.best(BUY if side == "BUY" else SELL) or 640000
            params = {
                "symbol": "BTCUSDT",
                "side": str(side),
                "type": str(kind),
                "quantity": spec.format_qty(int(str(lots))),
                "reduceOnly": str(reduce_only).lower(),
                "selfTradePreventionMode": str(stp),
            }
            if kind == "LIMIT":
                params["timeInForce"] = str(tif)
                params["price"] = spec.format_price(touch + int(str(offset)))
            # Refusals are part of the game; they must change nothing.
            with contextlib.suppress(VenueError):
                trading.new_order(who, params)
        elif act[0] == "cancel":
            open_orders = who.open_orders()
            if open_orders:
                order = open_orders[int(str(act[1])) % len(open_orders)]
                trading.cancel(who, {"symbol": "BTCUSDT", "orderId": str(order.order_id)})
        elif act[0] == "flow":
            for _ in range(int(str(act[1]))):
                venue.step(0.02)
        else:
            trading.settle_funding()
        check(venue, accounts, funding)


def check(venue: Venue, accounts: dict[str, Account], funding: dict[str, Decimal]) -> None:
    symbol = venue.symbols["BTCUSDT"]
    bid, ask = symbol.book.best(BUY), symbol.book.best(SELL)
    assert bid is None or ask is None or bid < ask, "crossed after matching"
    for account in accounts.values():
        trades = [t for t in account.trades if t.symbol == "BTCUSDT"]
        signed = sum((t.qty if t.side == "BUY" else -t.qty for t in trades), Decimal(0))
        assert account.position("BTCUSDT").amount == signed
        for trade in trades:
            rate = MAKER_FEE if trade.maker else TAKER_FEE
            # To the venue's 8 decimals, as every amount that moves a wallet.
            assert trade.commission == money(trade.price * trade.qty * rate)
        # A trade id twice in one account is a self-trade, the venue's two legs of one match:
        # one buy, one sell, one maker, and only when the taker let it happen.
        legs: dict[int, list[Trade]] = {}
        for trade in trades:
            legs.setdefault(trade.trade_id, []).append(trade)
        for pair in (p for p in legs.values() if len(p) > 1):
            assert sorted(t.side for t in pair) == ["BUY", "SELL"]
            assert sorted(t.maker for t in pair) == [False, True]
            taker = next(t for t in pair if not t.maker)
            assert account.orders[taker.order_id].stp == "NONE"
        realized = sum((t.realized_pnl for t in trades), Decimal(0))
        fees = sum((t.commission for t in trades), Decimal(0))
        assert account.wallet == START_BALANCE + realized - fees + funding[account.api_key]
        # No digit past the venue's 8: the balance list and ACCOUNT_UPDATE read the same.
        exponent = account.wallet.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        assert exponent >= -8, account.wallet
        assert account.position("BTCUSDT").realized == realized
        assert realized == reference_realized(trades)
        for order in account.orders.values():
            filled = sum((t.qty for t in trades if t.order_id == order.order_id), Decimal(0))
            assert order.executed_qty == filled <= order.orig_qty
            resting = symbol.book.order(order.order_id)
            if order.is_open and order.type == "LIMIT" and order.time_in_force in ("GTC", "GTX"):
                assert resting is not None
                assert (
                    symbol.spec.format_qty(resting.lots)
                    == format(order.orig_qty - order.executed_qty, "f")
                    or Decimal(symbol.spec.format_qty(resting.lots)) == order.orig_qty - filled
                )
            else:
                assert resting is None


def reference_realized(trades: list[Trade]) -> Decimal:
    """Average-cost P&L computed independently from the fills."""
    amount, entry, realized = Decimal(0), Decimal(0), Decimal(0)
    for trade in trades:
        qty = trade.qty if trade.side == "BUY" else -trade.qty
        price = trade.price
        if amount == 0 or (amount > 0) == (qty > 0):
            entry = ((abs(amount) * entry + abs(qty) * price) / abs(amount + qty)).quantize(
                ENTRY_QUANTUM
            )
        else:
            closed = min(abs(amount), abs(qty))
            realized += money((price - entry) * closed * (1 if amount > 0 else -1))
            if abs(qty) > abs(amount):
                entry = price
            elif abs(qty) == abs(amount):
                entry = Decimal(0)
        amount += qty
    return realized
