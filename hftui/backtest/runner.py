"""The backtest runner: the engine's own pipeline driven by a simulated clock.

The same classes the engine wires in `engine/main.py` (MarketData and its DepthSync books,
Execution with risk and the paper matcher's queue and latency model, the Account, the
StrategyHost and its guard) run here in one thread with no event loop, no sleeping and no
network. Frames arrive in timestamp order from a recording or from the synthetic market; the
clock every component reads is the current frame's receive time, and what the engine's loop
would do between frames (paper latency, strategy timers, funding, equity samples) runs at its
due time on that clock.

Determinism: the clock is simulated, client ids come from a counter with a fixed tag, the
only randomness is the synthetic market's seeded generator, and the strategy guard's time
budget is lifted (a wall-clock overrun would pause a strategy on a slow machine only). Wall
time is measured for the `timing` block and nothing else.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

import orjson

from hftui.config import Config, ParamValue, StrategiesConfig
from hftui.engine.execution import Execution
from hftui.engine.instrument import Instrument, parse_instruments
from hftui.engine.market_data import MarketData, SymbolSpec
from hftui.engine.orders import Fill
from hftui.engine.strategy_host import StrategyHost
from hftui.engine.strategy_loader import StrategyLoadError, discover, load_plugin
from hftui.exchange.symbols import SYMBOLS, exchange_info
from hftui.protocol import AlertRaised, Event, Mode, OrderChanged, Side
from hftui.recording import read_recording
from hftui.strategy import param_fields

__all__ = ["BacktestError", "RecordingSource", "Source", "run_backtest"]

_TIMER_NS: Final = 50_000_000  # the strategy host's timer resolution (its loop's tick)
_SAMPLE_NS: Final = 1_000_000_000  # equity curve interval
_PROGRESS_EVERY: Final = 4096  # frames between progress calls
_ALERTS_KEPT: Final = 20
_SPARK_POINTS: Final = 240  # equity points kept in report.json for a quick plot
_TAG: Final = "bt"  # client id tag: the engine's is its start time, which is not reproducible


class BacktestError(ValueError):
    """The backtest cannot run: unknown strategy, bad parameter, unusable data."""


class Source(Protocol):
    """Market data in the shape of a recording, and the contracts' filters."""

    def describe(self) -> dict[str, object]: ...

    def exchange_info(self) -> dict[str, object]: ...

    def frames(self) -> Iterator[tuple[int, str, bytes]]: ...


class RecordingSource:
    """A recording made by `hftui record` (or anything writing that format)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        first = next(read_recording(directory), None)  # FileNotFoundError when none
        if first is None or first[1] != "info":
            raise BacktestError(f"{directory}: the recording does not begin with symbol filters")
        self.grid: dict[str, dict[str, str]] = orjson.loads(first[2])

    def describe(self) -> dict[str, object]:
        return {"kind": "recording", "path": str(self.directory)}

    def exchange_info(self) -> dict[str, object]:
        """The local exchange's filters for symbols it lists on the same grid; for others only
        the recorded grid (risk's own limits still apply)."""
        listed = tuple(
            s
            for s, g in self.grid.items()
            if s in SYMBOLS
            and (SYMBOLS[s].tick_size, SYMBOLS[s].step_size) == (g["tickSize"], g["stepSize"])
        )
        info = exchange_info(listed, 0)
        entries: list[object] = list(info["symbols"])  # type: ignore[call-overload]
        for symbol, g in self.grid.items():
            if symbol not in listed:
                entries.append(
                    {
                        "symbol": symbol,
                        "filters": [
                            {"filterType": "PRICE_FILTER", "tickSize": g["tickSize"]},
                            {"filterType": "LOT_SIZE", "stepSize": g["stepSize"]},
                        ],
                    }
                )
        info["symbols"] = entries
        return info

    def frames(self) -> Iterator[tuple[int, str, bytes]]:
        return read_recording(self.directory)


class _Clock:
    """The simulated time every component reads."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


class _SimExecution(Execution):
    """Execution whose paper latency timer is a due time on the simulated clock instead of
    an event-loop timer; everything else is the engine's."""

    def __init__(
        self,
        config: Config,
        instruments: Mapping[str, Instrument],
        publish: Callable[[Event], None],
        clock_ns: Callable[[], int],
    ) -> None:
        super().__init__(config, instruments, publish, clock_ns)
        self._tag = _TAG
        self.risk.clock_ns = clock_ns  # the order-rate window counts simulated seconds
        self.paper_due = 0  # 0: no paper timer pending

    def _schedule_paper(self) -> None:
        if not self.paper_due:
            self.paper_due = self.clock_ns() + self.paper.config.latency_ns + 500_000

    def fire_paper(self) -> None:
        self.paper_due = 0
        self._paper_tick()


@dataclass(slots=True)
class _Tally:
    """What the report counts while the run goes."""

    frames: int = 0
    snapshots: int = 0
    fills: int = 0
    maker_fills: int = 0
    filled_orders: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    ended: dict[str, int] = field(default_factory=dict)  # terminal status -> orders
    refusals: dict[str, int] = field(default_factory=dict)  # risk reason -> intents
    turnover: float = 0.0
    volume_lots: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0
    funding: float = 0.0
    funding_events: int = 0
    alerts: list[str] = field(default_factory=list)
    alert_count: int = 0
    stopped: str = ""
    fill_rows: list[list[object]] = field(default_factory=list)
    equity: list[tuple[int, float, float]] = field(default_factory=list)  # ms, equity, dd


def _r(value: float) -> float:
    return round(value, 6) + 0.0  # + 0.0: never "-0.0"


def _sharpe(values: list[float]) -> dict[str, object] | None:
    """Mean over standard deviation of the per-interval equity changes, per interval and
    scaled to a day (sqrt of the intervals in one); None when flat."""
    diffs = [b - a for a, b in itertools.pairwise(values)]
    if len(diffs) < 2:
        return None
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    if var <= 0:
        return None
    ratio = mean / math.sqrt(var)
    per_day = 86_400 / (_SAMPLE_NS / 1e9)
    return {"per_interval": _r(ratio), "daily": _r(ratio * math.sqrt(per_day))}


def _downsample(values: list[float], n: int) -> list[float]:
    """At most `n` points: the last of each bucket, the final value always kept."""
    if len(values) <= n:
        return [_r(v) for v in values]
    step = len(values) / n
    return [_r(values[min(len(values) - 1, math.ceil((k + 1) * step) - 1)]) for k in range(n)]


def _wanted(frame: bytes, keep: frozenset[bytes]) -> bool:
    """Whether a frame is about one of the `keep` symbols (unreadable ones are kept, for the
    engine to judge)."""
    start = frame.find(b'"s":"')
    if start < 0:
        return True
    start += 5
    return frame[start : frame.find(b'"', start)] in keep


def _coerce(text: str, default: object) -> ParamValue:
    """A `--params` value typed like the parameter's default."""
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{text!r} is not a boolean")
        return text.lower() in ("true", "1", "yes")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text


def strategy_params(
    config: Config, name: str, overrides: Mapping[str, str]
) -> dict[str, ParamValue]:
    """The config's parameters for `name` with the command line's on top, typed."""
    path = discover(config.strategies.path).get(name)
    if path is None:
        known = ", ".join(sorted(discover(config.strategies.path))) or "none"
        raise BacktestError(f"no strategy named {name!r}; available: {known}")
    try:
        plugin = load_plugin(name, path)
    except StrategyLoadError as exc:
        raise BacktestError(str(exc)) from exc
    fields = param_fields(plugin.cls.params_type)
    params = config.strategies.params_of(name)
    for key, text in overrides.items():
        if key not in fields:
            raise BacktestError(f"{name} has no parameter {key!r}; it has: {', '.join(fields)}")
        try:
            params[key] = _coerce(text, fields[key])
        except ValueError as exc:
            raise BacktestError(f"--params {key}={text}: {exc}") from exc
    return params


class _Run:
    """One backtest: the wiring of `engine/main.py`, on the simulated clock."""

    def __init__(
        self,
        config: Config,
        strategy: str,
        params: dict[str, ParamValue],
        source: Source,
        symbols: tuple[str, ...],
    ) -> None:
        self.config = config
        self.clock = _Clock()
        self.tally = _Tally()
        self.source = source
        self.strategy = strategy
        info = source.exchange_info()
        listed = [e["symbol"] for e in info["symbols"]]  # type: ignore[attr-defined]
        wanted = tuple(s for s in symbols if s in listed) if symbols else tuple(listed)
        if not wanted:
            raise BacktestError(f"none of {', '.join(symbols)} is in the data")
        self.symbols = wanted
        # Frames of symbols left out are dropped before the engine sees them (it would count
        # them as bad frames); None when nothing is left out.
        self.keep: frozenset[bytes] | None = (
            frozenset(s.encode() for s in wanted) if len(wanted) < len(listed) else None
        )
        instruments = parse_instruments(info, wanted)
        self.instruments = instruments
        # The host's budget is a wall-clock limit: lifted, so that results never depend on
        # the machine. Strategies trade paper whatever the config's max_mode says.
        self.strategies_config = StrategiesConfig(
            enabled=(strategy,),
            path=config.strategies.path,
            params=((strategy, tuple(sorted(params.items()))),),
            callback_budget_ms=1e12,
            reload_interval_s=config.strategies.reload_interval_s,
            max_mode=Mode.PAPER,
        )
        self.market = MarketData(
            None,
            "",
            wanted,
            config.market.depth_speed,
            config.market.stale_after_s,
            clock_ns=self.clock,
            top_tolerance_s=config.market.top_tolerance_s,
        )
        self.market.fetch_snapshots = False  # snapshots come with the data
        self.market.apply_specs(
            {s: SymbolSpec(s, i.tick_size, i.step_size) for s, i in instruments.items()}
        )
        ex = _SimExecution(config, instruments, self._publish, self.clock)
        self.execution = ex
        ex.touch = self.market.touch
        self.market.on_book = ex.on_book
        self.market.on_trade = ex.on_trade
        for feed in self.market.feeds:
            if feed.sync is not None:
                ex.paper.see_book(feed.symbol, feed.sync.book)
        self.host = StrategyHost(self.strategies_config, ex, self._publish)
        self._fills: list[Fill] = []
        ex.on_fill = self._on_fill
        ex.on_daily_loss = self._daily_loss
        self.funded: dict[str, int] = {}  # symbol -> funding time settled last
        self.start_ns = 0
        self.peak = 0.0  # the equity's high-water mark, for the drawdown
        self.last_marks: dict[str, float] = {}  # mids in ticks, kept while a book is down
        self.next_timer = 0
        self.next_sample = 0
        self.timers = False  # whether any strategy wants on_timer

    # ---- events from the engine's classes -------------------------------------------------

    def _publish(self, event: Event) -> None:
        t = self.tally
        if isinstance(event, OrderChanged):
            if not event.client_id:
                name = event.reason.name.lower()
                t.refusals[name] = t.refusals.get(name, 0) + 1
            elif event.status.terminal and event.client_id not in t.finished:
                t.finished.add(event.client_id)  # an order's end is announced once per event
                name = event.status.name.lower()
                t.ended[name] = t.ended.get(name, 0) + 1
        elif isinstance(event, AlertRaised):
            t.alert_count += 1
            if len(t.alerts) < _ALERTS_KEPT:
                t.alerts.append(event.text)

    def _on_fill(self, fill: Fill) -> None:
        # Recorded now; handed to the host once execution has finished the event, as the
        # engine's loop does with call_soon.
        t = self.tally
        inst = self.instruments[fill.symbol]
        book = self.execution.account.book(Mode.PAPER, fill.symbol)
        after = book.lots
        before = after - (fill.qty if fill.side == Side.BUY else -fill.qty)
        if before and (after == 0 or (after > 0) != (before > 0)):
            t.round_trips += 1
        notional = fill.qty * fill.price / inst.notional_scale
        t.fills += 1
        t.maker_fills += fill.maker
        t.filled_orders.add(fill.client_id)
        t.turnover += notional
        t.volume_lots[fill.symbol] = t.volume_lots.get(fill.symbol, 0) + fill.qty
        t.fill_rows.append(
            [
                self.clock.now // 1_000_000,
                fill.client_id,
                fill.symbol,
                fill.side.name,
                inst.format_qty(fill.qty),
                inst.format_price(fill.price),
                round(notional, 8),
                round(fill.fee, 8),
                "maker" if fill.maker else "taker",
            ]
        )
        self._fills.append(fill)

    def _flush_fills(self) -> None:
        if not self._fills:
            return
        fills, self._fills = self._fills, []
        for fill in fills:
            self.host.on_fill(fill)
        self.host.deliver_fills()  # no loop here: nothing is left for call_soon

    def _daily_loss(self) -> None:
        # What the engine's controller does on the daily loss limit: cancel, observe, latch.
        ex = self.execution
        if ex.exposure.killed:
            return
        ex.set_mode(Mode.OBSERVE)
        ex.exposure.killed = True
        ex.cancel_paper(immediate=True)
        self.tally.stopped = f"daily loss limit at {self._elapsed_s():.3f} s"

    # ---- the clock ------------------------------------------------------------------------

    def _elapsed_s(self) -> float:
        return (self.clock.now - self.start_ns) / 1e9

    def _marks(self) -> dict[str, float]:
        marks = {}
        for feed in self.market.feeds:
            bid, ask = self.market.touch(feed.symbol)
            if bid > 0 and ask > 0:
                marks[feed.symbol] = (bid + ask) / 2
            elif feed.symbol in self.last_marks:
                marks[feed.symbol] = self.last_marks[feed.symbol]
        self.last_marks = marks
        return marks

    def equity(self) -> tuple[float, float, float, float]:
        """(realized, unrealized, fees, funding) in USDT now."""
        realized, unrealized, fees = self.execution.account.totals(Mode.PAPER, self._marks())
        return realized, unrealized, fees, self.tally.funding

    def _sample(self) -> None:
        realized, unrealized, fees, funding = self.equity()
        value = realized + unrealized - fees - funding
        self.peak = max(self.peak, value)
        self.tally.equity.append((self.clock.now // 1_000_000, value, value - self.peak))

    def _funding_due(self) -> int:
        due = math.inf
        for feed in self.market.feeds:
            at = feed.next_funding_ms
            if at and at > self.funded.get(feed.symbol, 0):
                due = min(due, at * 1_000_000)
        return int(due) if due != math.inf else 0

    def _settle_funding(self) -> None:
        now_ms = self.clock.now // 1_000_000
        for feed in self.market.feeds:
            at = feed.next_funding_ms
            if not at or at > now_ms or at <= self.funded.get(feed.symbol, 0):
                continue
            self.funded[feed.symbol] = at
            inst = self.instruments[feed.symbol]
            lots = self.execution.account.book(Mode.PAPER, feed.symbol).lots
            if lots and feed.mark_price > 0:
                qty = lots * inst.lot_units / 10**inst.qty_decimals
                self.tally.funding += qty * feed.mark_price * feed.funding_rate  # longs pay
                self.tally.funding_events += 1

    def _advance(self, until_ns: int) -> None:
        """Run what falls due up to `until_ns`, in time order (ties: paper, timers,
        funding, sample)."""
        ex = self.execution
        while True:
            paper = ex.paper_due or math.inf
            timer = self.next_timer if self.timers else math.inf
            funding = self._funding_due() or math.inf
            due = min(paper, timer, funding, self.next_sample)
            if due > until_ns:
                return
            self.clock.now = max(self.clock.now, int(due))
            if due == paper:
                ex.fire_paper()
            elif due == timer:
                self.next_timer += _TIMER_NS
                self.host.tick_timers(self.clock.now)
            elif due == funding:
                self._settle_funding()
            else:
                self.next_sample += _SAMPLE_NS
                self._sample()
            self._flush_fills()

    # ---- the report -----------------------------------------------------------------------

    def report(self, params: dict[str, object]) -> dict[str, object]:
        """Everything but wall-clock timing: the same data and seed give the same dict."""
        t, ex = self.tally, self.execution
        realized, unrealized, fees, funding = self.equity()
        net = realized + unrealized - fees - funding
        values = [v for _, v, _ in t.equity]
        submitted = ex.orders_sent
        positions = {}
        for symbol, inst in self.instruments.items():
            lots = ex.account.book(Mode.PAPER, symbol).lots
            sign = "-" if lots < 0 else ""
            positions[symbol] = sign + inst.format_qty(abs(lots))
        volume = {
            s: self.instruments[s].format_qty(lots) for s, lots in sorted(t.volume_lots.items())
        }
        feeds = {}
        for feed in self.market.feeds:
            sync = feed.sync
            if sync is not None:
                feeds[feed.symbol] = {
                    "synced": sync.synced,
                    "gaps": sync.gaps,
                    "resyncs": sync.resyncs,
                    "trades": feed.trade_count,
                }
        p = self.config.paper
        funding_note = (
            f"{t.funding_events} settlement(s) from the markPrice stream"
            if t.funding_events
            else "0: no funding settlement of a held position in the data"
        )
        return {
            "strategy": self.strategy,
            "params": params,
            "data": self.source.describe(),
            "symbols": list(self.symbols),
            "start_ms": self.start_ns // 1_000_000,
            "end_ms": self.clock.now // 1_000_000,
            "span_s": round((self.clock.now - self.start_ns) / 1e9, 3),
            "paper": {
                "latency_ms": p.latency_ms,
                "maker_fee_rate": p.maker_fee_rate,
                "taker_fee_rate": p.taker_fee_rate,
            },
            "summary": {
                "orders": submitted,
                "fills": t.fills,
                "maker_fills": t.maker_fills,
                "filled_orders": len(t.filled_orders),
                "fill_ratio": _r(len(t.filled_orders) / submitted) if submitted else None,
                "orders_ended": dict(sorted(t.ended.items())),
                "risk_refusals": dict(sorted(t.refusals.items())),
                "round_trips": t.round_trips,
                "turnover_usdt": _r(t.turnover),
                "volume": volume,
                "fees_usdt": _r(fees),
                "funding_usdt": _r(funding),
                "funding_note": funding_note,
                "realized_usdt": _r(realized),
                "unrealized_usdt": _r(unrealized),
                "net_pnl_usdt": _r(net),
                "max_drawdown_usdt": _r(-min((dd for _, _, dd in t.equity), default=0.0)),
                "sharpe_like": _sharpe(values),
                "positions": positions,
                "marks": {
                    s: round(
                        m
                        * self.instruments[s].tick_units
                        / 10 ** self.instruments[s].price_decimals,
                        8,
                    )
                    for s, m in sorted(self.last_marks.items())
                },
                "stopped": t.stopped or None,
            },
            "market": {
                "frames": t.frames,
                "snapshots": t.snapshots,
                "bad_frames": self.market.bad_frames,
                "feeds": feeds,
            },
            "alerts": {"count": t.alert_count, "first": t.alerts},
            "equity": {
                "interval_s": _SAMPLE_NS / 1e9,
                "points": len(t.equity),
                "sample": _downsample(values, _SPARK_POINTS),
            },
        }

    # ---- the run --------------------------------------------------------------------------

    def run(self, progress: Callable[[float | None, int], None] | None, end_ns: int) -> float:
        """Feed every frame; returns the seconds spent inside the source (generation)."""
        frames = self.source.frames()
        clock = time.perf_counter
        source_s = 0.0
        started = False
        market, tally = self.market, self.tally
        while True:
            t0 = clock()
            item = next(frames, None)
            source_s += clock() - t0
            if item is None:
                break
            recv_ns, channel, payload = item
            if not started:
                started = True
                self.start_ns = self.clock.now = recv_ns
                self.next_timer = recv_ns
                self.next_sample = recv_ns + _SAMPLE_NS
                self.execution.set_mode(Mode.PAPER)
                self.host.start()
                self.host.attach(market)
                self._sample()  # equity 0 at the start
                self.timers = any(
                    s.strategy is not None and s.strategy.timer_interval_s > 0
                    for s in self.host.slots.values()
                )
            if recv_ns > self.clock.now:
                self._advance(recv_ns)
                self.clock.now = recv_ns
            if channel == "info":
                continue  # symbols added mid-recording are not traded
            if channel.startswith("snapshot:"):
                feed = market.feed(channel.split(":", 1)[1])
                if feed is not None and feed.sync is not None:
                    snap = orjson.loads(payload)
                    feed.sync.on_snapshot(snap["lastUpdateId"], snap["bids"], snap["asks"])
                    tally.snapshots += 1
                continue
            if self.keep is not None and not _wanted(payload, self.keep):
                continue
            market.on_frame(payload, recv_ns)
            self._flush_fills()
            tally.frames += 1
            if progress is not None and tally.frames % _PROGRESS_EVERY == 0:
                span = end_ns - self.start_ns
                progress(
                    (recv_ns - self.start_ns) / span if end_ns and span > 0 else None, tally.frames
                )
        if not started:
            raise BacktestError("the data holds no frames")
        self._advance(max(end_ns, self.clock.now))
        if not tally.equity or tally.equity[-1][0] != self.clock.now // 1_000_000:
            self._sample()  # the last point is the final equity
        self.host.stop()
        return source_s


def run_backtest(
    config: Config,
    strategy: str,
    source: Source,
    overrides: Mapping[str, str] | None = None,
    symbols: tuple[str, ...] = (),
    progress: Callable[[float | None, int], None] | None = None,
) -> tuple[dict[str, object], list[list[object]], list[tuple[int, float, float]]]:
    """Run `strategy` over `source`. Returns (report, fill rows, equity rows).

    Raises:
        BacktestError: unknown strategy or parameter, or data it cannot use.
        FileNotFoundError: no recording where one was named.
    """
    params = strategy_params(config, strategy, overrides or {})
    run = _Run(config, strategy, params, source, symbols)
    end_ns = getattr(source, "end_ns", 0)
    started = time.perf_counter()
    source_s = run.run(progress, end_ns)
    seconds = time.perf_counter() - started
    slot = run.host.slots.get(strategy)
    if slot is None or slot.strategy is None:
        why = slot.why if slot is not None else "not loaded"
        raise BacktestError(f"strategy {strategy} did not start: {why}")
    effective = dataclasses.asdict(slot.strategy.params)
    report = run.report(effective)
    report["timing"] = {
        "seconds": round(seconds, 3),
        "source_s": round(source_s, 3),
        "events": run.tally.frames,
        "events_per_s": round(run.tally.frames / seconds) if seconds > 0 else None,
        "engine_events_per_s": (
            round(run.tally.frames / (seconds - source_s)) if seconds > source_s else None
        ),
    }
    return report, run.tally.fill_rows, run.tally.equity
