"""P&L against hand-computed cases: realized against the average entry, unrealized at the mark,
fees and funding apart, today's figures rolling over at midnight UTC, and per strategy."""

from __future__ import annotations

import calendar
import logging

import pytest

from hftui.config import Config
from hftui.engine.account import Account
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.journal import StrategyFill
from hftui.exchange.symbols import exchange_info
from hftui.protocol import Event, Mode, Side

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT", "ETHUSDT"), 0), ["BTCUSDT", "ETHUSDT"])
BTC = INSTRUMENTS["BTCUSDT"]  # tick 0.10 (2 price decimals), step 0.001


def _ticks(price: str) -> int:
    return BTC.price_ticks(price)


def _lots(qty: str) -> int:
    return BTC.qty_lots(qty)


class Clock:
    def __init__(self, day: str, hms: str = "12:00:00") -> None:
        self.set(day, hms)

    def set(self, day: str, hms: str) -> None:
        y, mo, d = (int(x) for x in day.split("-"))
        h, mi, sec = (int(x) for x in hms.split(":"))
        self.ns = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0)) * 1_000_000_000

    def __call__(self) -> int:
        return self.ns


def test_partial_close_with_fees_and_funding() -> None:
    account = Account(INSTRUMENTS, Clock("2026-12-04"))
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.BUY, _lots("0.010"), _ticks("60000.0"), 0.24)
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.SELL, _lots("0.004"), _ticks("61000.0"), 0.0976)
    account.on_funding(Mode.LIVE, "BTCUSDT", -0.036)  # a long pays a positive rate
    book = account.book(Mode.LIVE, "BTCUSDT")
    assert book.lots == _lots("0.006")
    assert book.entry_ticks() == _ticks("60000.0")
    assert book.realized == pytest.approx(4.0)  # 0.004 x (61000 - 60000)
    assert (book.fees, book.funding) == pytest.approx((0.3376, -0.036))
    pnl = account.pnl(Mode.LIVE, {"BTCUSDT": _ticks("60500.0")})
    assert pnl.unrealized == pytest.approx(3.0)  # 0.006 x (60500 - 60000)
    assert pnl.daily == pytest.approx(4.0 + 3.0 - 0.3376 - 0.036)
    # Paper is a separate book; observe shows the live account.
    assert account.pnl(Mode.PAPER, {"BTCUSDT": _ticks("60500.0")}).daily == 0.0
    assert account.pnl(Mode.OBSERVE, {"BTCUSDT": _ticks("60500.0")}) == pnl


def test_a_flip_realizes_the_old_side_and_opens_the_rest_at_the_fill_price() -> None:
    account = Account(INSTRUMENTS, Clock("2026-12-04"))
    account.on_fill(Mode.PAPER, "BTCUSDT", Side.BUY, _lots("0.010"), _ticks("60000.0"), 0.0)
    account.on_fill(Mode.PAPER, "BTCUSDT", Side.SELL, _lots("0.015"), _ticks("59000.0"), 0.0)
    book = account.book(Mode.PAPER, "BTCUSDT")
    assert book.realized == pytest.approx(-10.0)  # 0.010 x (59000 - 60000)
    assert (book.lots, book.entry_ticks()) == (-_lots("0.005"), _ticks("59000.0"))
    pnl = account.pnl(Mode.PAPER, {"BTCUSDT": _ticks("58000.0")})
    assert pnl.unrealized == pytest.approx(5.0)  # short 0.005 from 59000 to 58000
    assert account.pnl(Mode.PAPER, {}).unrealized == 0.0  # no mark: not valued


def test_today_rolls_over_at_midnight_utc_while_positions_carry() -> None:
    clock = Clock("2026-12-04", "23:59:00")
    account = Account(INSTRUMENTS, clock)
    account.seed_today(Mode.LIVE, 2.0, 0.5, 0.1)  # what the journal had for today
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.BUY, _lots("0.010"), _ticks("60000.0"), 0.24)
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.SELL, _lots("0.005"), _ticks("60200.0"), 0.12)
    today = account.today(Mode.LIVE)
    assert today.day == "2026-12-04"
    # 2.0 seeded + 0.005 x 200; fees 0.5 seeded + 0.24 + 0.12
    assert (today.realized, today.fees, today.funding) == pytest.approx((3.0, 0.86, 0.1))
    clock.set("2026-12-05", "00:00:01")
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.SELL, _lots("0.005"), _ticks("60400.0"), 0.12)
    today = account.today(Mode.LIVE)
    assert today.day == "2026-12-05"
    # 0.005 x 400: only the new day's fill
    assert (today.realized, today.fees, today.funding) == pytest.approx((2.0, 0.12, 0.0))
    assert account.book(Mode.LIVE, "BTCUSDT").realized == pytest.approx(3.0)  # 1 + 2
    assert account.book(Mode.LIVE, "BTCUSDT").lots == 0


def test_each_strategy_has_its_own_pnl_and_they_add_up_to_the_account() -> None:
    account = Account(INSTRUMENTS, Clock("2026-12-04"))
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.BUY, _lots("0.010"), _ticks("60000.0"), 0.1, "a")
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.SELL, _lots("0.010"), _ticks("61000.0"), 0.1, "b")
    marks = {"BTCUSDT": float(_ticks("60500.0"))}
    a = account.strategy_pnl(Mode.LIVE, "a", marks)
    b = account.strategy_pnl(Mode.LIVE, "b", marks)
    assert a == pytest.approx((0.0, 5.0, 0.1))  # long from 60000
    assert b == pytest.approx((0.0, 5.0, 0.1))  # short from 61000
    whole = account.pnl(Mode.LIVE, marks)
    assert whole.realized == pytest.approx(10.0)  # flat overall: one round trip
    assert a[0] + a[1] + b[0] + b[1] == pytest.approx(whole.realized + whole.unrealized)
    assert account.strategy_pnl(Mode.PAPER, "a", marks) == (0.0, 0.0, 0.0)


def test_a_strategys_pnl_is_todays_and_its_position_goes_on_over_midnight() -> None:
    clock = Clock("2026-12-04", "23:59:00")
    account = Account(INSTRUMENTS, clock)
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.BUY, _lots("0.010"), _ticks("60000.0"), 0.1, "a")
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.SELL, _lots("0.005"), _ticks("60100.0"), 0.1, "a")
    assert account.strategy_pnl(Mode.LIVE, "a", {}) == pytest.approx((0.5, 0.0, 0.2))
    clock.set("2026-12-05", "00:00:01")
    assert account.strategy_pnl(Mode.LIVE, "a", {}) == (0.0, 0.0, 0.0)
    account.on_fill(Mode.LIVE, "BTCUSDT", Side.SELL, _lots("0.005"), _ticks("60200.0"), 0.1, "a")
    # Against the entry bought yesterday: 0.005 x 200.
    assert account.strategy_pnl(Mode.LIVE, "a", {}) == pytest.approx((1.0, 0.0, 0.1))
    assert account.strategy_lots(Mode.LIVE, "a", "BTCUSDT") == 0


def _funding(symbol: object, bc: object) -> dict[str, object]:
    return {
        "e": "ACCOUNT_UPDATE",
        "E": 1,
        "T": 1,
        "a": {
            "m": "FUNDING_FEE",
            "S": symbol,
            "B": [{"a": "USDT", "wb": "1", "cw": "1", "bc": bc}],
            "P": [],
        },
    }


def test_funding_from_the_user_stream_and_valuation_at_the_mark(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[Event] = []
    ex = Execution(Config(), INSTRUMENTS, events.append)
    ex.on_user_event(_funding("BTCUSDT", "-0.01250000"))
    ex.on_user_event(_funding("BTCUSDT", "0.00250000"))
    with caplog.at_level(logging.WARNING):
        ex.on_user_event(_funding("BTCUSDT", "lots"))  # malformed: dropped, said
        ex.on_user_event(_funding("XRPUSDT", "1"))  # not ours
        ex.on_user_event({"e": "ACCOUNT_UPDATE", "a": {"m": "ORDER", "B": []}})  # not funding
    assert len(caplog.records) == 2
    assert ex.account.book(Mode.LIVE, "BTCUSDT").funding == pytest.approx(-0.01)
    assert ex.account.pnl(Mode.LIVE, {}).funding == pytest.approx(-0.01)
    # The mark when there is one, the book's mid when not, nothing before either.
    ex.mark_price = lambda s: 60500.0 if s == "BTCUSDT" else 0.0
    ex.touch = lambda s: (300_000, 300_020) if s == "ETHUSDT" else (-1, -1)  # ETH ticks
    values = ex.valuations()
    assert values["BTCUSDT"] == _ticks("60500.0")
    assert values["ETHUSDT"] == 300_010
    ex.touch = lambda s: (-1, -1)
    assert ex.valuations()["ETHUSDT"] == 0


def test_paper_positions_an_earlier_run_left_are_taken_before_trading() -> None:
    ex = Execution(Config(), INSTRUMENTS, lambda _: None)
    ex.set_mode(Mode.PAPER)
    said = ex.resume_paper_positions(
        {
            "BTCUSDT": ("-0.020", "6400150"),  # entry 64001.50: not on the 0.10 tick (an average)
            "ETHUSDT": ("1.5x", "320001"),
            "XRPUSDT": ("10", "5000"),
        }
    )
    assert said == [
        "BTCUSDT -0.020 @ 64001.50",
        "ETHUSDT 1.5x left out (malformed decimal '1.5x')",
        "XRPUSDT 10 left out (not one of the engine's symbols)",
    ]
    book = ex.account.book(Mode.PAPER, "BTCUSDT")
    assert book.lots == -_lots("0.020")
    assert book.entry_ticks() == pytest.approx(640_015.0)
    assert ex.account.book(Mode.LIVE, "BTCUSDT").lots == 0
    assert ex.exposure.symbols["BTCUSDT"].position == -_lots("0.020")  # risk sees it
    # Buying it back realizes against that entry: 0.020 x (64001.50 - 64000.00) = 0.03 USDT.
    ex.account.on_fill(Mode.PAPER, "BTCUSDT", Side.BUY, _lots("0.020"), _ticks("64000.00"), 0.0)
    assert book.lots == 0
    assert book.realized == pytest.approx(0.03)


def test_strategy_positions_are_rebuilt_from_an_earlier_runs_fills() -> None:
    clock = Clock("2026-12-05", "09:00:00")
    ex = Execution(Config(), INSTRUMENTS, lambda _: None, clock)
    yesterday, today = clock.ns // 1_000_000 - 86_400_000, clock.ns // 1_000_000 - 3_600_000
    taken = ex.resume_strategy_positions(
        [
            StrategyFill("paper", "maker", "ETHUSDT", "BUY", "0.030", "3200.00", 0.05, yesterday),
            StrategyFill("paper", "maker", "ETHUSDT", "SELL", "0.010", "3201.00", 0.02, yesterday),
            StrategyFill("live", "maker", "ETHUSDT", "SELL", "0.005", "3199.00", 0.01, today),
            StrategyFill("paper", "momentum", "BTCUSDT", "BUY", "0.002", "64000.10", 0.0, today),
            StrategyFill("paper", "maker", "XRPUSDT", "BUY", "10", "0.5"),  # not traded now
            StrategyFill("paper", "maker", "ETHUSDT", "BUY", "lots", "3200.00"),  # unreadable
            # Today: 0.010 of yesterday's 0.020 at 3200.00 sold at 3205.00, +0.05 USDT.
            StrategyFill("paper", "maker", "ETHUSDT", "SELL", "0.010", "3205.00", 0.03, today),
        ]
    )
    assert taken == 5
    account = ex.account
    eth = INSTRUMENTS["ETHUSDT"]
    assert account.strategy_lots(Mode.PAPER, "maker", "ETHUSDT") == eth.qty_lots("0.010")
    assert account.strategy_lots(Mode.LIVE, "maker", "ETHUSDT") == -eth.qty_lots("0.005")
    assert account.strategy_lots(Mode.OBSERVE, "maker", "ETHUSDT") == 0
    assert account.strategy_lots(Mode.PAPER, "momentum", "BTCUSDT") == _lots("0.002")
    book = account.strategy_book(Mode.PAPER, "maker", "ETHUSDT")
    assert book.entry_ticks() == pytest.approx(eth.price_ticks("3200.00"))
    # The position carries over whole; the P&L figures are today's fills' (yesterday's sale
    # of 0.010 at 3201.00 and its fees are yesterday's).
    assert (book.realized, book.fees) == pytest.approx((0.05, 0.03))
    assert account.strategy_pnl(Mode.LIVE, "maker", {}) == pytest.approx((0.0, 0.0, 0.01))
    assert account.book(Mode.PAPER, "ETHUSDT").lots == 0  # the account's own comes apart
    # A fill recovered later (the engine was down over midnight) adds yesterday's entry and
    # leaves today's figures as they were.
    ex.resume_strategy_positions(
        [StrategyFill("paper", "maker", "ETHUSDT", "BUY", "0.010", "3190.00", 0.04, yesterday)]
    )
    assert account.strategy_lots(Mode.PAPER, "maker", "ETHUSDT") == eth.qty_lots("0.020")
    assert book.entry_ticks() == pytest.approx(eth.price_ticks("3195.00"))
    assert (book.realized, book.fees) == pytest.approx((0.05, 0.03))
