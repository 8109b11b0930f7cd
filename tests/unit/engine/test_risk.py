"""The pre-trade risk gate: one refusal per reason code from a passing baseline, live limit
changes, the order-rate window on a fake clock, and (hypothesis) agreement on every example
with a plain reference written on the exact decimal values of exchangeInfo and the config."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import MANUAL, Lots, OrderIntent, Ticks
from hftui.engine.risk import Exposure, RiskEngine, RiskLimits, SymbolExposure, SymbolLimits
from hftui.exchange.symbols import exchange_info
from hftui.protocol import OrderType, Reason, Side, TimeInForce

SYMBOLS = ("BTCUSDT", "ETHUSDT")
INFO = exchange_info(SYMBOLS, 0)
INSTRUMENTS = parse_instruments(INFO, list(SYMBOLS))
BTC = INSTRUMENTS["BTCUSDT"]  # tick 0.10, step 0.001, min notional 100 USDT
MID = 640_000  # 64000.00 USDT
SECOND = 1_000_000_000


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: int = 10 * SECOND) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


# ---- the plain reference ------------------------------------------------------------------


@dataclass(frozen=True)
class Venue:
    """One symbol's filters as exact decimals, read straight from the exchangeInfo payload
    (not from `Instrument`, whose integers are what is under test)."""

    tick: Fraction
    step: Fraction
    min_price: Fraction
    max_price: Fraction  # 0: none
    min_qty: Fraction
    max_qty: Fraction
    market_max_qty: Fraction
    min_notional: Fraction
    max_orders: int


def _venues() -> dict[str, Venue]:
    out: dict[str, Venue] = {}
    symbols = INFO["symbols"]
    assert isinstance(symbols, list)
    for entry in symbols:
        f = {item["filterType"]: item for item in entry["filters"]}
        out[entry["symbol"]] = Venue(
            tick=Fraction(f["PRICE_FILTER"]["tickSize"]),
            step=Fraction(f["LOT_SIZE"]["stepSize"]),
            min_price=Fraction(f["PRICE_FILTER"]["minPrice"]),
            max_price=Fraction(f["PRICE_FILTER"]["maxPrice"]),
            min_qty=Fraction(f["LOT_SIZE"]["minQty"]),
            max_qty=Fraction(f["LOT_SIZE"]["maxQty"]),
            market_max_qty=Fraction(f["MARKET_LOT_SIZE"]["maxQty"]),
            min_notional=Fraction(f["MIN_NOTIONAL"]["notional"]),
            max_orders=int(f["MAX_NUM_ORDERS"]["limit"]),
        )
    return out


VENUES = _venues()


def dec(value: float) -> Fraction:
    """What a config float means: the decimal its repr spells."""
    return Fraction(repr(value))


def reference(  # noqa: C901  (one rule after another, on purpose)
    intent: OrderIntent,
    exposure: Exposure,
    limits: RiskLimits,
    sent: list[int],
    now: int,
) -> Reason:
    """The gate's rules written plainly, in base units and USDT, with exact fractions."""
    if exposure.killed:
        return Reason.KILLED
    v = VENUES.get(intent.symbol)
    if v is None:
        return Reason.UNKNOWN_SYMBOL
    if intent.qty <= 0:
        return Reason.BAD_QTY
    s = limits.per_symbol.get(intent.symbol, limits.default)
    market = intent.order_type == OrderType.MARKET
    buy = intent.side == Side.BUY
    price = intent.price * v.tick
    qty = intent.qty * v.step
    if market and intent.price != 0:
        return Reason.BAD_PRICE
    if not market and (price <= 0 or price < v.min_price or (v.max_price and price > v.max_price)):
        return Reason.BAD_PRICE
    if qty < v.min_qty:
        return Reason.MIN_QTY
    venue_max = v.market_max_qty if market else v.max_qty
    if qty > venue_max or (s.max_order_qty and qty > dec(s.max_order_qty)):
        return Reason.MAX_QTY
    exp = exposure.symbols.get(intent.symbol, SymbolExposure())
    mid = exp.mid * v.tick
    band = dec(s.price_band_bps)
    if mid <= 0 and (market or band > 0):
        return Reason.NO_MARKET
    notional = qty * (mid if market else price)  # USDT
    if notional < v.min_notional and not intent.reduce_only:
        return Reason.MIN_NOTIONAL
    if s.max_order_notional and notional > dec(s.max_order_notional):
        return Reason.MAX_NOTIONAL
    if band > 0 and not market and abs(price - mid) / mid * 10_000 > band:
        return Reason.PRICE_BAND
    position = exp.position * v.step
    if intent.reduce_only:
        if position == 0 or (position > 0) == buy or qty > abs(position):
            return Reason.REDUCE_ONLY
    elif s.max_position:
        worst = (
            position + exp.open_buy * v.step + qty
            if buy
            else position - exp.open_sell * v.step - qty
        )
        if abs(worst) > dec(s.max_position):
            return Reason.MAX_POSITION
    if (
        (s.max_open_orders and exp.open_orders >= s.max_open_orders)
        or exp.open_orders >= v.max_orders
        or (
            limits.max_open_orders_total
            and exposure.open_orders_total >= limits.max_open_orders_total
        )
    ):
        return Reason.MAX_OPEN_ORDERS
    if intent.strategy in limits.strategy_budgets and not intent.reduce_only:
        used = Fraction(exposure.strategy_exposure.get(intent.strategy, 0.0))
        if used + notional > dec(limits.strategy_budgets[intent.strategy]):
            return Reason.STRATEGY_BUDGET
    if (
        limits.daily_loss_limit
        and Fraction(exposure.daily_pnl) <= -dec(limits.daily_loss_limit)
        and not intent.reduce_only
    ):
        return Reason.DAILY_LOSS
    rate = dec(limits.max_orders_per_s)
    if rate:
        # floor(rate) orders per second; below one a second, one order per 1/rate seconds.
        window = SECOND / min(rate, Fraction(1))
        allowed = max(1, math.floor(rate))
        if sum(1 for t in sent if now - t < window) >= allowed:
            return Reason.ORDER_RATE
    return Reason.OK


# ---- a passing baseline and one refusal per reason ----------------------------------------

BASE_LIMITS = RiskLimits(
    default=SymbolLimits(
        max_order_qty=1.0,
        max_order_notional=50_000.0,
        max_position=2.0,
        max_open_orders=5,
        price_band_bps=100.0,
    ),
    max_open_orders_total=10,
    max_orders_per_s=3.0,
    daily_loss_limit=1_000.0,
    strategy_budgets={"mm": 10_000.0},
)
BUY = OrderIntent("BTCUSDT", Side.BUY, Lots(10), Ticks(MID - 10), strategy="mm")  # 0.01 BTC


def base_exposure() -> Exposure:
    exposure = Exposure(SYMBOLS)
    exposure.symbols["BTCUSDT"].mid = MID
    exposure.symbols["ETHUSDT"].mid = 320_000
    return exposure


def _set(attr: str, value: object, symbol: str = "BTCUSDT") -> Callable[[Exposure], None]:
    def change(exposure: Exposure) -> None:
        setattr(exposure.symbols[symbol], attr, value)

    return change


def _top(attr: str, value: object) -> Callable[[Exposure], None]:
    def change(exposure: Exposure) -> None:
        setattr(exposure, attr, value)

    return change


def _keep(exposure: Exposure) -> None:
    pass


def _used(strategy: str, usdt: float) -> Callable[[Exposure], None]:
    def change(exposure: Exposure) -> None:
        exposure.strategy_exposure[strategy] = usdt

    return change


MARKET_BUY = replace(BUY, price=Ticks(0), order_type=OrderType.MARKET, tif=TimeInForce.IOC)

# (reason, the one change to the intent, the one change to the exposure, words of the text)
REFUSALS: list[tuple[Reason, OrderIntent, Callable[[Exposure], None], str]] = [
    (Reason.KILLED, BUY, _top("killed", True), "kill switch"),
    (Reason.UNKNOWN_SYMBOL, replace(BUY, symbol="XRPUSDT"), _keep, "XRPUSDT"),
    (Reason.BAD_QTY, replace(BUY, qty=Lots(0)), _keep, "quantity 0 lots"),
    (Reason.BAD_PRICE, replace(BUY, price=Ticks(0)), _keep, "positive"),
    (Reason.BAD_PRICE, replace(BUY, price=Ticks(BTC.min_price_ticks - 1)), _keep, "556.80"),
    (Reason.BAD_PRICE, replace(BUY, price=Ticks(BTC.max_price_ticks + 1)), _keep, "4529764"),
    (Reason.BAD_PRICE, replace(MARKET_BUY, price=Ticks(MID)), _keep, "market order"),
    (Reason.MAX_QTY, replace(BUY, qty=Lots(1001)), _keep, "quantity 1.001 BTC above the limit 1"),
    (Reason.NO_MARKET, BUY, _set("mid", 0), "no live book for BTCUSDT"),
    (Reason.NO_MARKET, MARKET_BUY, _set("mid", 0), "no live book"),
    (Reason.MIN_NOTIONAL, replace(BUY, qty=Lots(1)), _keep, "notional 64.00 USDT below"),
    (
        Reason.MAX_NOTIONAL,
        replace(BUY, qty=Lots(800)),
        _keep,
        "51199.20 USDT above the limit 50000",
    ),
    (Reason.PRICE_BAND, replace(BUY, price=Ticks(MID + 6_500)), _keep, "102 bps from mid 64000.00"),
    (
        Reason.REDUCE_ONLY,
        replace(BUY, reduce_only=True),
        _set("position", 50),
        "reduce-only BUY 0.010 BTC would not reduce the position 0.050",
    ),
    (Reason.MAX_POSITION, BUY, _set("position", 1_995), "limit 2 BTC"),
    (Reason.MAX_OPEN_ORDERS, BUY, _set("open_orders", 5), "5 orders open on BTCUSDT (limit 5)"),
    (Reason.MAX_OPEN_ORDERS, BUY, _top("open_orders_total", 10), "10 in all (limit 10)"),
    (Reason.STRATEGY_BUDGET, BUY, _used("mm", 9_500.0), "budget of 10000 USDT"),
    (Reason.DAILY_LOSS, BUY, _top("daily_pnl", -1_000.0), "loss limit 1000 USDT"),
]


def test_the_baseline_passes_and_every_reason_has_a_case() -> None:
    engine = RiskEngine(BASE_LIMITS, INSTRUMENTS, FakeClock())
    assert engine.check(BUY, base_exposure()) == Reason.OK
    assert engine.check(MARKET_BUY, base_exposure()) == Reason.OK
    covered = {reason for reason, *_ in REFUSALS} | {Reason.MIN_QTY, Reason.ORDER_RATE}
    gate = {r for r in Reason if 1 <= r <= 16 and r != Reason.HALTED}
    assert gate <= covered


@pytest.mark.parametrize(
    ("reason", "intent", "change", "words"),
    REFUSALS,
    ids=[f"{r.name}-{n}" for n, (r, *_) in enumerate(REFUSALS)],
)
def test_each_check_refuses_with_its_reason_and_says_why(
    reason: Reason, intent: OrderIntent, change: Callable[[Exposure], None], words: str
) -> None:
    engine = RiskEngine(BASE_LIMITS, INSTRUMENTS, FakeClock())
    exposure = base_exposure()
    change(exposure)
    assert engine.check(intent, exposure) == reason
    assert words in engine.refusal_text(reason, intent, exposure)
    # The gate is pure: asking again gives the same answer.
    assert engine.check(intent, exposure) == reason


def test_min_qty_is_the_venue_filter() -> None:
    # No instrument of the local exchange has a minimum above one lot, so use a copy with one.
    instruments = {**INSTRUMENTS, "BTCUSDT": replace(BTC, min_qty_lots=5)}
    engine = RiskEngine(BASE_LIMITS, instruments)
    exposure = base_exposure()
    assert engine.check(replace(BUY, qty=Lots(4)), exposure) == Reason.MIN_QTY
    assert engine.check(replace(BUY, qty=Lots(5)), exposure) == Reason.OK
    text = engine.refusal_text(Reason.MIN_QTY, replace(BUY, qty=Lots(4)), exposure)
    assert "0.004 below the venue's minimum 0.005" in text


def test_market_orders_use_mid_for_notional_and_the_market_lot_filter() -> None:
    default = replace(BASE_LIMITS.default, max_order_qty=0.0, max_position=0.0)
    engine = RiskEngine(replace(BASE_LIMITS, default=default), INSTRUMENTS)
    exposure = base_exposure()
    exposure.symbols["BTCUSDT"].mid = 100_000  # 10000.00, so notional stays under the limit
    market_buy = replace(MARKET_BUY, strategy=MANUAL)  # no budget
    # 120 BTC is MARKET_LOT_SIZE's maximum; LOT_SIZE allows 1000.
    assert engine.check(replace(market_buy, qty=Lots(4_000)), exposure) == Reason.OK
    assert engine.check(replace(market_buy, qty=Lots(120_001)), exposure) == Reason.MAX_QTY
    assert engine.check(
        replace(market_buy, qty=Lots(120_001), price=Ticks(100_000), order_type=OrderType.LIMIT),
        exposure,
    ) == (Reason.MAX_NOTIONAL)
    assert engine.check(replace(market_buy, qty=Lots(5_001)), exposure) == Reason.MAX_NOTIONAL
    assert engine.check(replace(market_buy, qty=Lots(9)), exposure) == Reason.MIN_NOTIONAL


def test_a_limit_order_needs_no_book_without_a_band() -> None:
    limits = replace(BASE_LIMITS, default=replace(BASE_LIMITS.default, price_band_bps=0.0))
    engine = RiskEngine(limits, INSTRUMENTS)
    exposure = base_exposure()
    exposure.symbols["BTCUSDT"].mid = 0
    assert engine.check(BUY, exposure) == Reason.OK
    assert engine.check(MARKET_BUY, exposure) == Reason.NO_MARKET


def test_reduce_only_exemptions_and_limits() -> None:
    engine = RiskEngine(BASE_LIMITS, INSTRUMENTS)
    exposure = base_exposure()
    exposure.symbols["BTCUSDT"].position = 1_995  # 1.995 BTC long: near the 2 BTC limit
    sell = replace(BUY, side=Side.SELL, qty=Lots(1), reduce_only=True, strategy=MANUAL)
    assert engine.check(sell, exposure) == Reason.OK  # under min notional, still allowed
    assert engine.check(replace(sell, reduce_only=False), exposure) == Reason.MIN_NOTIONAL
    assert engine.check(replace(sell, qty=Lots(1_001)), exposure) == Reason.MAX_QTY
    exposure.symbols["BTCUSDT"].position = 500
    assert engine.check(replace(sell, qty=Lots(500)), exposure) == Reason.OK
    assert engine.check(replace(sell, qty=Lots(501)), exposure) == Reason.REDUCE_ONLY
    assert engine.check(replace(sell, side=Side.BUY), exposure) == Reason.REDUCE_ONLY
    exposure.symbols["BTCUSDT"].position = 0
    assert engine.check(sell, exposure) == Reason.REDUCE_ONLY
    # Past the daily loss limit only reduce-only orders pass, so the trader can get flat.
    exposure.symbols["BTCUSDT"].position = -500
    exposure.daily_pnl = -5_000.0
    assert engine.check(replace(BUY, reduce_only=True), exposure) == Reason.OK
    assert engine.check(BUY, exposure) == Reason.DAILY_LOSS
    assert engine.daily_loss_breached(exposure)


def test_max_position_counts_resting_orders_on_the_same_side() -> None:
    engine = RiskEngine(BASE_LIMITS, INSTRUMENTS)  # 2 BTC
    exposure = base_exposure()
    btc = exposure.symbols["BTCUSDT"]
    btc.position, btc.open_buy, btc.open_sell = 1_000, 990, 5_000
    assert engine.check(BUY, exposure) == Reason.OK  # 1 + 0.99 + 0.01 = 2
    btc.open_buy = 991
    assert engine.check(BUY, exposure) == Reason.MAX_POSITION
    # Selling: 1 - 5 - 0.01 = -4.01 on the worst case.
    assert engine.check(replace(BUY, side=Side.SELL), exposure) == Reason.MAX_POSITION
    btc.open_sell = 2_990
    assert engine.check(replace(BUY, side=Side.SELL), exposure) == Reason.OK


def test_config_limits_round_down_to_whole_lots_and_notional_units() -> None:
    limits = replace(
        BASE_LIMITS,
        default=SymbolLimits(max_order_qty=0.0159, max_order_notional=960.05),
        daily_loss_limit=0.0,
        strategy_budgets={},
    )
    engine = RiskEngine(limits, INSTRUMENTS)
    exposure = base_exposure()
    assert engine.check(replace(BUY, qty=Lots(15), price=Ticks(MID)), exposure) == Reason.OK
    assert engine.check(replace(BUY, qty=Lots(16), price=Ticks(MID)), exposure) == Reason.MAX_QTY
    # 15 lots at 64003.40 = 960.051 USDT: over 960.05 by a thousandth of a cent.
    assert engine.check(replace(BUY, qty=Lots(15), price=Ticks(640_034)), exposure) == (
        Reason.MAX_NOTIONAL
    )
    assert engine.check(replace(BUY, qty=Lots(15), price=Ticks(640_033)), exposure) == Reason.OK


def test_the_band_is_exact_at_its_edge() -> None:
    limits = replace(BASE_LIMITS, default=replace(BASE_LIMITS.default, price_band_bps=12.5))
    engine = RiskEngine(limits, INSTRUMENTS)
    exposure = base_exposure()
    edge = MID * 125 // 100_000  # 12.5 bps of 64000.00 is exactly 80.00, 800 ticks
    assert engine.check(replace(BUY, price=Ticks(MID + edge)), exposure) == Reason.OK
    assert engine.check(replace(BUY, price=Ticks(MID - edge)), exposure) == Reason.OK
    assert engine.check(replace(BUY, price=Ticks(MID + edge + 1)), exposure) == Reason.PRICE_BAND
    assert engine.check(replace(BUY, price=Ticks(MID - edge - 1)), exposure) == Reason.PRICE_BAND


def test_budget_and_daily_loss_are_exact_at_the_boundary_and_fail_closed_on_nan() -> None:
    limits = replace(BASE_LIMITS, strategy_budgets={"mm": 1_000.1}, daily_loss_limit=0.3)
    engine = RiskEngine(limits, INSTRUMENTS)
    exposure = base_exposure()
    intent = replace(BUY, qty=Lots(2), price=Ticks(MID))  # 128.00 USDT
    room = Fraction("1000.1") - 128  # 872.1 is not a float: test both neighbours
    below = float(room) if Fraction(float(room)) <= room else math.nextafter(float(room), 0)
    above = math.nextafter(below, math.inf)
    exposure.strategy_exposure["mm"] = below
    assert engine.check(intent, exposure) == Reason.OK
    exposure.strategy_exposure["mm"] = above
    assert engine.check(intent, exposure) == Reason.STRATEGY_BUDGET
    exposure.strategy_exposure["mm"] = math.nan
    assert engine.check(intent, exposure) == Reason.STRATEGY_BUDGET
    exposure.strategy_exposure["mm"] = 0.0
    assert engine.check(replace(intent, strategy=MANUAL), exposure) == Reason.OK  # no budget
    # -(0.1 + 0.2) is just past -0.3; the float nearest -0.3 is not past the decimal.
    # Found by search: here the float sum alone says "inside" and the exact one "over".
    exposure.symbols["BTCUSDT"].mid = 19_961_533
    big = OrderIntent("BTCUSDT", Side.BUY, Lots(10), Ticks(19_961_533), strategy="mm")
    exposure.strategy_exposure["mm"] = 71665.467
    assert 71665.467 + 199_615_330 * 1e-4 <= 91627.0
    assert Fraction(71665.467) + Fraction(199_615_330, 10**4) > 91627
    wide = replace(limits, default=SymbolLimits(), strategy_budgets={"mm": 91627.0})
    assert RiskEngine(wide, INSTRUMENTS).check(big, exposure) == Reason.STRATEGY_BUDGET
    exposure.strategy_exposure["mm"] = math.nextafter(71665.467, 0)
    assert RiskEngine(wide, INSTRUMENTS).check(big, exposure) == Reason.OK
    exposure.symbols["BTCUSDT"].mid = MID
    exposure.strategy_exposure["mm"] = 0.0
    exposure.daily_pnl = -(0.1 + 0.2)
    assert engine.check(intent, exposure) == Reason.DAILY_LOSS
    exposure.daily_pnl = -0.3
    expected = Fraction(-0.3) <= Fraction("-0.3")
    assert (engine.check(intent, exposure) == Reason.DAILY_LOSS) == expected
    assert engine.daily_loss_breached(exposure) == expected
    exposure.daily_pnl = -0.29
    assert engine.check(intent, exposure) == Reason.OK
    assert not engine.daily_loss_breached(exposure)
    exposure.daily_pnl = math.nan
    assert engine.check(intent, exposure) == Reason.DAILY_LOSS
    assert engine.daily_loss_breached(exposure)
    no_limit = RiskEngine(replace(limits, daily_loss_limit=0.0), INSTRUMENTS)
    assert not no_limit.daily_loss_breached(exposure)


# ---- live changes and the order rate -------------------------------------------------------


def test_set_limits_takes_effect_on_the_next_check() -> None:
    per_symbol = {"BTCUSDT": replace(BASE_LIMITS.default, max_order_qty=0.005)}
    engine = RiskEngine(BASE_LIMITS, INSTRUMENTS)
    exposure = base_exposure()
    assert engine.check(BUY, exposure) == Reason.OK
    engine.set_limits(replace(BASE_LIMITS, per_symbol=per_symbol))
    assert engine.check(BUY, exposure) == Reason.MAX_QTY
    eth = replace(BUY, symbol="ETHUSDT", price=Ticks(320_000))
    assert engine.check(eth, exposure) == Reason.OK  # the default still holds for ETH
    per_symbol["BTCUSDT"] = BASE_LIMITS.default  # the limits took a copy
    assert engine.check(BUY, exposure) == Reason.MAX_QTY
    engine.set_limits(BASE_LIMITS)
    assert engine.check(BUY, exposure) == Reason.OK


@pytest.mark.parametrize(
    "bad",
    [
        replace(BASE_LIMITS, daily_loss_limit=-1.0),
        replace(BASE_LIMITS, max_orders_per_s=math.nan),
        replace(BASE_LIMITS, strategy_budgets={"mm": math.inf}),
        replace(BASE_LIMITS, per_symbol={"BTCUSDT": SymbolLimits(max_position=-0.1)}),
    ],
)
def test_bad_limits_are_refused_and_the_old_ones_stay(bad: RiskLimits) -> None:
    engine = RiskEngine(BASE_LIMITS, INSTRUMENTS)
    with pytest.raises(ValueError, match="risk limit"):
        engine.set_limits(bad)
    assert engine.limits is BASE_LIMITS
    assert engine.check(BUY, base_exposure()) == Reason.OK


def test_order_rate_window_on_a_fake_clock() -> None:
    clock = FakeClock()
    engine = RiskEngine(replace(BASE_LIMITS, max_orders_per_s=3.0), INSTRUMENTS, clock)
    exposure = base_exposure()
    start = clock.now
    for n in range(3):
        clock.now = start + n * 100_000_000
        assert engine.check(BUY, exposure) == Reason.OK
        engine.record_sent()
    clock.now = start + 500_000_000
    assert engine.check(BUY, exposure) == Reason.ORDER_RATE
    assert "3 orders sent in the last 1 s" in engine.refusal_text(Reason.ORDER_RATE, BUY, exposure)
    clock.now = start + SECOND - 1  # the first send is still inside the last second
    assert engine.check(BUY, exposure) == Reason.ORDER_RATE
    clock.now = start + SECOND  # ... and now it is not
    assert engine.check(BUY, exposure) == Reason.OK
    engine.record_sent()
    assert engine.check(BUY, exposure) == Reason.ORDER_RATE
    clock.now = start + SECOND + 100_000_000
    assert engine.check(BUY, exposure) == Reason.OK


def test_a_rate_change_keeps_the_recent_sends() -> None:
    clock = FakeClock()
    engine = RiskEngine(replace(BASE_LIMITS, max_orders_per_s=10.0), INSTRUMENTS, clock)
    exposure = base_exposure()
    for _ in range(5):
        engine.record_sent()
    assert engine.check(BUY, exposure) == Reason.OK
    engine.set_limits(replace(BASE_LIMITS, max_orders_per_s=4.0))
    assert engine.check(BUY, exposure) == Reason.ORDER_RATE
    engine.set_limits(replace(BASE_LIMITS, max_orders_per_s=6.0))
    assert engine.check(BUY, exposure) == Reason.OK
    engine.set_limits(replace(BASE_LIMITS, max_orders_per_s=0.0))
    assert engine.check(BUY, exposure) == Reason.OK  # no rate limit at all
    engine.record_sent()  # not remembered without a limit
    engine.set_limits(replace(BASE_LIMITS, max_orders_per_s=1.0))
    assert engine.check(BUY, exposure) == Reason.OK


def test_a_rate_below_one_per_second_spaces_orders_out() -> None:
    clock = FakeClock()
    engine = RiskEngine(replace(BASE_LIMITS, max_orders_per_s=0.5), INSTRUMENTS, clock)
    exposure = base_exposure()
    assert engine.check(BUY, exposure) == Reason.OK
    engine.record_sent()
    clock.now += 2 * SECOND - 1
    assert engine.check(BUY, exposure) == Reason.ORDER_RATE
    clock.now += 1
    assert engine.check(BUY, exposure) == Reason.OK


# ---- agreement with the reference ----------------------------------------------------------


def _config_number(top: float) -> st.SearchStrategy[float]:
    """0 (no limit), a short decimal as a trader writes one, or any float in range."""
    return st.one_of(
        st.just(0.0),
        st.integers(1, int(top * 1000)).map(lambda n: n / 1000),
        st.integers(1, int(top)).map(float),
        st.floats(0.0, top, allow_nan=False, allow_infinity=False),
    )


symbol_limits = st.builds(
    SymbolLimits,
    max_order_qty=_config_number(20.0),
    max_order_notional=_config_number(200_000.0),
    max_position=_config_number(30.0),
    max_open_orders=st.integers(0, 8),
    price_band_bps=_config_number(2_000.0),
)


@dataclass
class Case:
    intent: OrderIntent
    exposure: Exposure
    limits: RiskLimits
    sent: list[int]
    now: int

    def __repr__(self) -> str:  # hypothesis prints failing cases; Exposure has no repr
        e = self.exposure
        syms = {
            k: (x.mid, x.position, x.open_orders, x.open_buy, x.open_sell)
            for k, x in e.symbols.items()
        }
        return (
            f"Case({self.intent!r}, symbols={syms}, total={e.open_orders_total}, "
            f"pnl={e.daily_pnl!r}, strategies={e.strategy_exposure!r}, killed={e.killed}, "
            f"{self.limits!r}, sent={self.sent}, now={self.now})"
        )


def _near(draw: st.DrawFn, value: Fraction) -> float:
    """A float at, just under or just over an exact boundary: where rounding would show."""
    f = float(value)
    return draw(st.sampled_from([f, math.nextafter(f, -math.inf), math.nextafter(f, math.inf)]))


def _rarely(draw: st.DrawFn) -> bool:
    # One time in eight: the early checks must not hide the later ones.
    return draw(st.sampled_from([False] * 7 + [True]))


risk_limits = st.builds(
    RiskLimits,
    default=symbol_limits,
    per_symbol=st.dictionaries(st.sampled_from(SYMBOLS), symbol_limits, max_size=2),
    max_open_orders_total=st.integers(0, 20),
    max_orders_per_s=st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.5, 3.0]), _config_number(10.0)),
    daily_loss_limit=_config_number(5_000.0),
    strategy_budgets=st.dictionaries(
        st.sampled_from(["mm", "arb"]), _config_number(100_000.0), max_size=2
    ),
)


def _edge(draw: st.DrawFn, limit: Fraction) -> int:
    """A whole number at a limit: the last one inside, or the first one outside."""
    return math.floor(limit) + draw(st.sampled_from([0, 1]))


@st.composite
def cases(draw: st.DrawFn) -> Case:  # noqa: C901  (one decision after another)
    limits = draw(risk_limits)
    symbol = "XRPUSDT" if _rarely(draw) else draw(st.sampled_from(SYMBOLS))
    s = limits.for_symbol(symbol)
    v = VENUES.get(symbol, VENUES["BTCUSDT"])
    base_mid = 640_000 if symbol == "BTCUSDT" else 320_000
    mid = 0 if _rarely(draw) else draw(st.integers(base_mid // 2, base_mid * 2))
    market = _rarely(draw) or _rarely(draw)
    ref = mid or base_mid
    inst = INSTRUMENTS["BTCUSDT" if symbol == "XRPUSDT" else symbol]
    edges = [0, -1, inst.min_price_ticks - 1, inst.min_price_ticks]
    edges += [inst.max_price_ticks, inst.max_price_ticks + 1]
    if market:
        price = draw(st.integers(-5, 5)) if _rarely(draw) else 0
    elif _rarely(draw):
        price = draw(st.sampled_from(edges))
    else:
        spread = draw(st.sampled_from([1000, 100, 20]))  # 0.1%, 1% or 5% of mid
        price = draw(st.integers(ref - ref // spread, ref + ref // spread))
    if _rarely(draw):
        qty = draw(
            st.one_of(
                st.integers(-2, 0),
                st.sampled_from([1_000_000, 1_000_001, 120_000, 120_001, 2_000_001]),
                st.integers(1, 30_000),
            )
        )
    else:
        qty = draw(st.integers(1, 400))
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    # Half the time, put one figure exactly on (or one past) the edge of a limit, where a
    # rounding or an off-by-one in the integer forms would show.
    target = draw(st.sampled_from(["", "band", "qty", "notional", "min_notional", "position"]))
    px = (mid if market else price) * v.tick * v.step  # USDT per lot
    if target == "band" and s.price_band_bps and not market and mid > 0:
        price = mid + side * _edge(draw, mid * dec(s.price_band_bps) / 10_000)
    elif target == "qty" and s.max_order_qty:
        qty = _edge(draw, dec(s.max_order_qty) / v.step)
    elif target == "notional" and s.max_order_notional and px > 0:
        qty = _edge(draw, dec(s.max_order_notional) / px)
    elif target == "min_notional" and not market and draw(st.booleans()):
        # A price on the tick where a few lots make the minimum exactly.
        qty = draw(st.sampled_from([1, 2, 4, 5, 8, 10, 16, 20]))
        price = int(v.min_notional / (qty * v.step * v.tick)) + draw(st.sampled_from([-1, 0, 1]))
        mid = mid and price
    elif target == "min_notional" and px > 0:
        qty = -_edge(draw, -v.min_notional / px)
    strategy = draw(st.sampled_from([MANUAL, "mm", "arb"]))
    intent = OrderIntent(
        symbol,
        side,
        Lots(qty),
        Ticks(price),
        OrderType.MARKET if market else OrderType.LIMIT,
        TimeInForce.IOC if market else draw(st.sampled_from(list(TimeInForce))),
        _rarely(draw) or _rarely(draw),
        strategy,
    )
    exposure = Exposure(SYMBOLS)
    exposure.killed = _rarely(draw) and _rarely(draw)
    for name, e in exposure.symbols.items():
        e.mid = mid if name == symbol else draw(st.sampled_from([0, base_mid]))
        e.position = draw(st.sampled_from([0, 0, draw(st.integers(-3_000, 3_000))]))
        e.open_orders = draw(st.integers(0, 12 if _rarely(draw) else 3))
        e.open_buy = draw(st.integers(0, 5_000 if _rarely(draw) else 500))
        e.open_sell = draw(st.integers(0, 5_000 if _rarely(draw) else 500))
    exposure.open_orders_total = draw(st.integers(0, 25 if _rarely(draw) else 6))
    here = exposure.symbols.get(symbol)
    if target == "position" and s.max_position and here is not None:
        resting = here.open_buy if side == Side.BUY else here.open_sell
        worst = _edge(draw, dec(s.max_position) / v.step) * draw(st.sampled_from([1, -1]))
        here.position = worst - side * (resting + qty)
    # The two float figures: anywhere, or right at the boundary the limits put them on.
    exposure.daily_pnl = draw(st.floats(-10_000.0, 10_000.0, allow_nan=False))
    if limits.daily_loss_limit and draw(st.booleans()):
        exposure.daily_pnl = _near(draw, -dec(limits.daily_loss_limit))
    used = draw(st.floats(0.0, 100_000.0, allow_nan=False))
    if strategy in limits.strategy_budgets and draw(st.booleans()):
        used = _near(draw, dec(limits.strategy_budgets[strategy]) - qty * px)
    exposure.strategy_exposure[strategy] = used
    now = 100 * SECOND
    sent = sorted(draw(st.lists(st.integers(now - 3 * SECOND, now), max_size=12)))
    return Case(intent, exposure, limits, sent, now)


@settings(max_examples=2_000, deadline=None)
@given(case=cases())
@example(
    case=Case(BUY, base_exposure(), BASE_LIMITS, [100 * SECOND - SECOND + 1] * 3, 100 * SECOND)
)
def test_check_agrees_with_the_reference(case: Case) -> None:
    clock = FakeClock()
    engine = RiskEngine(case.limits, INSTRUMENTS, clock)
    for t in case.sent:
        clock.now = t
        engine.record_sent()
    clock.now = case.now
    expected = reference(case.intent, case.exposure, case.limits, case.sent, case.now)
    event(expected.name)  # --hypothesis-show-statistics: every reason should turn up
    assert engine.check(case.intent, case.exposure) == expected


def test_a_strategy_over_its_budget_may_still_reduce_its_position() -> None:
    engine = RiskEngine(replace(BASE_LIMITS, strategy_budgets={"mm": 100.0}), INSTRUMENTS)
    exposure = base_exposure()
    exposure.symbols["BTCUSDT"].position = 5
    exposure.strategy_exposure["mm"] = 1_000.0  # ten times over
    sell = replace(BUY, side=Side.SELL, qty=Lots(2), price=Ticks(MID), strategy="mm")
    assert engine.check(sell, exposure) == Reason.STRATEGY_BUDGET
    assert engine.check(replace(sell, reduce_only=True), exposure) == Reason.OK
