"""Pre-trade risk: the cost of one `RiskEngine.check`, against a naive Decimal gate.

Run: `python benchmarks/bench_risk.py [--json]`. Two intents on BTCUSDT with every limit
set (per-symbol limits, a strategy budget, a daily loss limit, an order rate): a LIMIT that
passes every check, and a fat-finger LIMIT refused by the price band halfway down the list.
The baseline is the same rules written the obvious way (config and filters read as Decimal
on every call, a list of send times filtered per call), measured in the same run; both gates
are checked to give the same answers first.

Each call is timed on its own with `perf_counter_ns` and the timer's own cost (the median of
back-to-back reads) subtracted, so p99 and p99.9 are per-call tails, not batch averages; a
batched mean per call (256 calls between two reads) is printed alongside as a cross-check.
Rounds are interleaved (each runs every gate once) and each figure is the median over rounds,
so a shared machine slowing down mid-run skews no gate in particular.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from hftui.engine.instrument import Instrument, parse_instruments
from hftui.engine.intents import Lots, OrderIntent, Ticks
from hftui.engine.risk import Exposure, RiskEngine, RiskLimits, SymbolExposure, SymbolLimits
from hftui.exchange.symbols import exchange_info
from hftui.protocol import OrderType, Reason, Side

CALLS = 20_000  # timed calls per gate per round
ROUNDS = 7
BATCH = 256
TARGET_P99_NS = 2_000

SYMBOLS = ("BTCUSDT", "ETHUSDT")
MID = 640_000  # 64000.00
LIMITS = RiskLimits(
    default=SymbolLimits(
        max_order_qty=1.0,
        max_order_notional=50_000.0,
        max_position=2.0,
        max_open_orders=50,
        price_band_bps=500.0,
    ),
    per_symbol={"ETHUSDT": SymbolLimits(max_order_qty=20.0, max_order_notional=50_000.0)},
    max_open_orders_total=200,
    max_orders_per_s=20.0,
    daily_loss_limit=1_000.0,
    strategy_budgets={"mm": 100_000.0},
)
PASS = OrderIntent("BTCUSDT", Side.BUY, Lots(10), Ticks(MID - 10), strategy="mm")
REFUSE = OrderIntent("BTCUSDT", Side.BUY, Lots(10), Ticks(MID * 2), strategy="mm")

Gate = Callable[[OrderIntent, Exposure], Reason]
Figures = dict[str, float]


class NaiveRisk:
    """The baseline: the same checks in the same order, written the obvious way."""

    def __init__(
        self,
        limits: RiskLimits,
        instruments: Mapping[str, Instrument],
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.limits = limits
        self.instruments = instruments
        self.clock_ns = clock_ns
        self.sent: list[int] = []

    def check(self, intent: OrderIntent, exposure: Exposure) -> Reason:  # noqa: C901
        if exposure.killed:
            return Reason.KILLED
        inst = self.instruments.get(intent.symbol)
        if inst is None:
            return Reason.UNKNOWN_SYMBOL
        if intent.qty <= 0:
            return Reason.BAD_QTY
        s = self.limits.per_symbol.get(intent.symbol, self.limits.default)
        tick, step = Decimal(inst.tick_size), Decimal(inst.step_size)
        market = intent.order_type == OrderType.MARKET
        price, qty = intent.price * tick, intent.qty * step
        if market and intent.price != 0:
            return Reason.BAD_PRICE
        if not market and (
            price <= 0
            or price < inst.min_price_ticks * tick
            or (inst.max_price_ticks and price > inst.max_price_ticks * tick)
        ):
            return Reason.BAD_PRICE
        if qty < inst.min_qty_lots * step:
            return Reason.MIN_QTY
        venue_max = (inst.market_max_qty_lots if market else inst.max_qty_lots) * step
        if (venue_max and qty > venue_max) or (
            s.max_order_qty and qty > Decimal(repr(s.max_order_qty))
        ):
            return Reason.MAX_QTY
        exp = exposure.symbols.get(intent.symbol, SymbolExposure())
        mid = exp.mid * tick
        band = Decimal(repr(s.price_band_bps))
        if mid <= 0 and (market or band):
            return Reason.NO_MARKET
        notional = qty * (mid if market else price)
        min_notional = inst.min_notional * tick * step
        if notional < min_notional and not intent.reduce_only:
            return Reason.MIN_NOTIONAL
        if s.max_order_notional and notional > Decimal(repr(s.max_order_notional)):
            return Reason.MAX_NOTIONAL
        if band and not market and abs(price - mid) / mid * 10_000 > band:
            return Reason.PRICE_BAND
        position = exp.position * step
        buy = intent.side == Side.BUY
        if intent.reduce_only:
            if position == 0 or (position > 0) == buy or qty > abs(position):
                return Reason.REDUCE_ONLY
        elif s.max_position:
            resting = (exp.open_buy if buy else exp.open_sell) * step
            worst = position + (resting + qty if buy else -(resting + qty))
            if abs(worst) > Decimal(repr(s.max_position)):
                return Reason.MAX_POSITION
        if (
            (s.max_open_orders and exp.open_orders >= s.max_open_orders)
            or exp.open_orders >= inst.max_open_orders
            or exposure.open_orders_total >= self.limits.max_open_orders_total
        ):
            return Reason.MAX_OPEN_ORDERS
        budget = self.limits.strategy_budgets.get(intent.strategy)
        if budget is not None:
            used = Decimal(exposure.strategy_exposure.get(intent.strategy, 0.0))
            if used + notional > Decimal(repr(budget)):
                return Reason.STRATEGY_BUDGET
        loss = self.limits.daily_loss_limit
        if loss and Decimal(exposure.daily_pnl) <= -Decimal(repr(loss)) and not intent.reduce_only:
            return Reason.DAILY_LOSS
        if self.limits.max_orders_per_s:
            now = self.clock_ns()
            self.sent = [t for t in self.sent if now - t < 1_000_000_000]
            if len(self.sent) >= int(self.limits.max_orders_per_s):
                return Reason.ORDER_RATE
        return Reason.OK


def timer_overhead(calls: int = CALLS) -> int:
    """The median cost of two back-to-back `perf_counter_ns` reads."""
    clock = time.perf_counter_ns
    samples = [0] * calls
    for i in range(calls):
        t0 = clock()
        samples[i] = clock() - t0
    return int(statistics.median(samples))


def time_calls(
    gate: Gate, intent: OrderIntent, exposure: Exposure, overhead: int, calls: int = CALLS
) -> list[int]:
    """Nanoseconds of each of `calls` calls, timer cost subtracted, sorted."""
    clock = time.perf_counter_ns
    samples = [0] * calls
    for i in range(calls):
        t0 = clock()
        gate(intent, exposure)
        samples[i] = clock() - t0 - overhead
    samples.sort()
    return samples


def batched_mean(gate: Gate, intent: OrderIntent, exposure: Exposure, calls: int = CALLS) -> float:
    """Mean nanoseconds per call over batches of BATCH calls (the timer cost amortised)."""
    clock = time.perf_counter_ns
    batches = max(calls // BATCH, 1)
    total = 0
    for _ in range(batches):
        t0 = clock()
        for _ in range(BATCH):
            gate(intent, exposure)
        total += clock() - t0
    return total / (batches * BATCH)


def percentiles(samples: list[int]) -> Figures:
    n = len(samples)
    return {
        "p50_ns": float(samples[n // 2]),
        "p99_ns": float(samples[min(n - 1, n * 99 // 100)]),
        "p999_ns": float(samples[min(n - 1, n * 999 // 1000)]),
    }


def measure(
    gates: dict[str, Gate], exposure: Exposure, calls: int = CALLS, rounds: int = ROUNDS
) -> dict[str, dict[str, Figures]]:
    """Per gate and intent, the median over `rounds` of each percentile and the batched mean."""
    intents = {"pass": PASS, "refuse": REFUSE}
    runs: dict[str, dict[str, list[Figures]]] = {g: {k: [] for k in intents} for g in gates}
    for gate in gates.values():  # warm up
        for intent in intents.values():
            for _ in range(2_000):
                gate(intent, exposure)
    overhead = timer_overhead(calls)
    for _ in range(rounds):
        for name, gate in gates.items():
            for key, intent in intents.items():
                gc.collect()
                figures = percentiles(time_calls(gate, intent, exposure, overhead, calls))
                figures["batched_mean_ns"] = batched_mean(gate, intent, exposure, calls)
                runs[name][key].append(figures)
    return {
        g: {
            k: {f: statistics.median(r[f] for r in rounds) for f in rounds[0]}
            for k, rounds in per.items()
        }
        for g, per in runs.items()
    }


def run(
    calls: int = CALLS, rounds: int = ROUNDS
) -> tuple[dict[str, object], dict[str, dict[str, Figures]]]:
    """Check that both gates agree, then measure them: the JSON object `--json` prints, and
    every figure per gate and intent."""
    instruments = parse_instruments(exchange_info(SYMBOLS, 0), list(SYMBOLS))
    exposure = Exposure(SYMBOLS)
    exposure.symbols["BTCUSDT"].mid = MID
    exposure.symbols["BTCUSDT"].position = 100
    exposure.symbols["BTCUSDT"].open_orders = 3
    exposure.symbols["BTCUSDT"].open_buy = 30
    exposure.symbols["ETHUSDT"].mid = 320_000
    exposure.open_orders_total = 3
    exposure.strategy_exposure["mm"] = 12_345.67
    exposure.daily_pnl = -123.45
    ours = RiskEngine(LIMITS, instruments)
    naive = NaiveRisk(LIMITS, instruments)
    for intent, want in ((PASS, Reason.OK), (REFUSE, Reason.PRICE_BAND)):
        got = (ours.check(intent, exposure), naive.check(intent, exposure))
        if got != (want, want):
            raise RuntimeError(f"the gates disagree on {intent}: {got}, wanted {want}")

    result = measure({"ours": ours.check, "baseline": naive.check}, exposure, calls, rounds)
    out: dict[str, object] = {
        "ours": {k: result["ours"]["pass"][k] for k in ("p50_ns", "p99_ns", "p999_ns")},
        "baseline": {k: result["baseline"]["pass"][k] for k in ("p50_ns", "p99_ns", "p999_ns")},
        "ratio": result["baseline"]["pass"]["p50_ns"] / result["ours"]["pass"]["p50_ns"],
        "refused": {
            "ours": {k: result["ours"]["refuse"][k] for k in ("p50_ns", "p99_ns", "p999_ns")},
            "baseline": {
                k: result["baseline"]["refuse"][k] for k in ("p50_ns", "p99_ns", "p999_ns")
            },
            "ratio": result["baseline"]["refuse"]["p50_ns"] / result["ours"]["refuse"]["p50_ns"],
        },
    }
    return out, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    out, result = run()
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"risk check: {CALLS} timed calls per gate and intent, median of {ROUNDS} rounds; "
        f"timer cost subtracted; target p99 <= {TARGET_P99_NS} ns for a passing LIMIT"
    )
    print(f"{'gate':<34} {'p50 ns':>8} {'p99 ns':>8} {'p99.9 ns':>9} {'batched':>8} {'speed':>7}")
    for key, label in (("pass", "passing LIMIT"), ("refuse", "refused (price band)")):
        base = result["baseline"][key]["p50_ns"]
        for gate in ("baseline", "ours"):
            f = result[gate][key]
            name = f"{label}: {'naive Decimal' if gate == 'baseline' else 'RiskEngine'}"
            print(
                f"{name:<34} {f['p50_ns']:>8.0f} {f['p99_ns']:>8.0f} {f['p999_ns']:>9.0f} "
                f"{f['batched_mean_ns']:>8.0f} {base / f['p50_ns']:>6.1f}x"
            )
    p99 = result["ours"]["pass"]["p99_ns"]
    verdict = "met" if p99 <= TARGET_P99_NS else "MISSED"
    print(f"p99 of a passing check: {p99:.0f} ns, target {TARGET_P99_NS} ns {verdict}")


if __name__ == "__main__":
    main()
