"""Margin calls and liquidation against a mark price the test controls."""

from __future__ import annotations

from decimal import Decimal

from hftui.exchange.accounts import Account, money
from hftui.exchange.liquidation import LIQUIDATION_FEE, MAINTENANCE_RATIO, MarginMonitor
from hftui.exchange.streams import StreamHub
from hftui.exchange.trading import Trading
from hftui.exchange.venue import Venue


def setup() -> tuple[Venue, Account, Trading, MarginMonitor, list[dict[str, object]]]:
    venue = Venue(("BTCUSDT",), 4, StreamHub())
    account = Account("k", b"s", wallet=Decimal(1000))
    events: list[dict[str, object]] = []
    trading = Trading(
        venue, {"k": account}, lambda: 1_700_000_000_000, lambda a, e: events.append(e)
    )
    account.leverage["BTCUSDT"] = 100
    trading.new_order(
        account, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1.000"}
    )
    return venue, account, trading, MarginMonitor(trading), events


def set_mark(venue: Venue, price: Decimal) -> None:
    stats = venue.symbols["BTCUSDT"].stats
    stats.index = float(price / Decimal("0.10"))
    stats.premium = 0.0


def test_warns_once_then_liquidates_at_the_maintenance_margin() -> None:
    venue, account, trading, monitor, events = setup()
    entry = account.position("BTCUSDT").entry_price
    wallet = account.wallet
    set_mark(venue, entry - 100)
    monitor.check()
    assert [e["e"] for e in events].count("MARGIN_CALL") == 0
    # Margin call at twice the maintenance margin: wallet - loss <= 2 x 0.4 % x mark.
    set_mark(venue, entry - 500)
    monitor.check()
    monitor.check()
    calls = [e for e in events if e["e"] == "MARGIN_CALL"]
    assert len(calls) == 1  # once, not on every tick
    balance, maintenance = monitor.figures(account)
    assert maintenance < balance <= 2 * maintenance
    # Liquidation at the maintenance margin: closed at the mark, with the fee.
    set_mark(venue, entry - 760)
    mark = trading.mark_price(venue.symbols["BTCUSDT"])
    monitor.check()
    assert account.position("BTCUSDT").amount == 0
    liquidation = [
        e["o"]
        for e in events
        if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["o"] == "LIQUIDATION"  # type: ignore[index]
    ]
    assert len(liquidation) == 1
    assert liquidation[0]["c"].startswith("autoclose-")  # type: ignore[index]
    assert liquidation[0]["x"] == "CALCULATED"  # type: ignore[index]
    # What the margin is worth after closing at the mark; amounts to the venue's 8 decimals.
    remaining = wallet + money(mark - entry)
    fee = min(money(mark * LIQUIDATION_FEE), max(remaining, Decimal(0)))
    assert account.wallet == max(remaining - fee, Decimal(0))
    assert monitor.insurance_fund == (fee if remaining > 0 else remaining)
    assert Decimal("0.004") == MAINTENANCE_RATIO


def test_healthy_accounts_are_left_alone() -> None:
    venue, account, _, monitor, events = setup()
    set_mark(venue, account.position("BTCUSDT").entry_price + 50)
    monitor.check()
    assert account.position("BTCUSDT").amount == Decimal("1.000")
    assert not [e for e in events if e["e"] == "MARGIN_CALL"]


def test_a_bankrupt_account_ends_at_zero_and_the_fund_covers_the_rest() -> None:
    venue, account, trading, monitor, _ = setup()
    entry = account.position("BTCUSDT").entry_price
    wallet = account.wallet
    set_mark(venue, entry - 2000)
    mark = trading.mark_price(venue.symbols["BTCUSDT"])
    monitor.check()
    assert account.wallet == 0
    assert monitor.insurance_fund == wallet + money(mark - entry)
    assert monitor.insurance_fund < 0
