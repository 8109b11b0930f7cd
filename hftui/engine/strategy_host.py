"""The strategy host: loads the enabled plugins, feeds them books, trades, fills and timers,
and routes their intents through risk and execution as orders they own.

Owns: one slot per enabled strategy (its plugin, instance, context, state, latency figures),
and the strategies' positions from their own fills. Execution owns the orders; a context only
remembers which client ids are its strategy's.

- Every hook runs under one guard: an exception, or a call longer than the budget, pauses the
  strategy with an alert and cancels its working orders; nothing escapes to the engine.
- Intents are queued by the context and routed (risk, execution) in order when the hooks of
  the event have returned: a hook's time and budget are its decision's alone, and a hook
  that fails or overruns sends none of its intents. Client ids are given out at once, so a
  strategy can track and cancel an order in the same hook.
- Hot reload: file mtimes are polled; a changed file is executed afresh, a new instance is
  started and the old one's `snapshot_state()` is restored into it. The context (and with it
  the orders and the position) carries over, so working orders stay managed. A file that no
  longer loads leaves the running instance as it was, with an alert.
- Pause/resume/reload by name (PauseStrategy, ResumeStrategy, ReloadStrategy commands).
- Live parameters (SetStrategyParams): "key=value ..." text is checked against the
  strategy's frozen `Params` class (unknown key, wrong type or a value `__post_init__`
  refuses: refused, nothing changes). Accepted values restart the strategy as a hot reload
  does, with state carried, except attributes `on_start` derives from the parameters: those
  are taken from the new start (found by comparing a dry start with the old parameters).
  Values set live stay over the config's through later hot reloads.
- `[strategies] enabled` changes live (`set_enabled`, from a config reload): a strategy
  newly listed is loaded and started; one no longer listed gets its on_stop, its open orders
  cancelled through execution, and leaves the host (the account keeps its P&L books).
- `[strategies] max_mode`: above that mode intents are held (HALTED), so an example strategy
  enabled for a demo never trades paper or live unless the config says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from hftui.config import StrategiesConfig
from hftui.engine.book import OrderBook
from hftui.engine.execution import Execution, Outcome
from hftui.engine.instrument import Instrument
from hftui.engine.intents import ClientId, Lots, OrderIntent, Ticks
from hftui.engine.market_data import MarketData
from hftui.engine.metrics import LatencyHistogram
from hftui.engine.orders import Fill
from hftui.engine.strategy_loader import (
    Plugin,
    StrategyLoadError,
    build_params,
    discover,
    load_plugin,
)
from hftui.protocol import (
    AlertRaised,
    Event,
    Mode,
    OrderType,
    PauseStrategy,
    Reason,
    ReloadStrategy,
    ResumeStrategy,
    SetStrategyParams,
    Side,
    StrategyFigures,
    TimeInForce,
)
from hftui.strategy import Params, Strategy, param_fields

__all__ = [
    "StrategyCommand",
    "StrategyContext",
    "StrategyHost",
    "StrategySlot",
    "params_text",
    "parse_params_text",
]

log = logging.getLogger(__name__)

_TICK_S: Final = 0.05  # timer resolution of the host loop
_HOOKS: Final = ("book", "trade", "fill", "timer")

StrategyCommand = PauseStrategy | ResumeStrategy | ReloadStrategy | SetStrategyParams


def params_text(params: Params) -> str:
    """The parameters as "key=value ..." text (the form SetStrategyParams takes)."""
    parts = []
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        parts.append(f"{f.name}={str(value).lower() if isinstance(value, bool) else value}")
    return " ".join(parts)


def parse_params_text(params_type: type[Params], text: str) -> dict[str, object]:
    """Typed values of "key=value ..." text, each converted to its default's type.

    Raises:
        ValueError: not key=value, an unknown key, or a value that does not convert.
    """
    fields = param_fields(params_type)
    out: dict[str, object] = {}
    for item in text.split():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, not {item!r}")
        if key not in fields:
            raise ValueError(f"no parameter {key!r}; the parameters are: {', '.join(fields)}")
        default = fields[key]
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false"):
                    raise ValueError
                value: object = raw.lower() == "true"
            elif isinstance(default, int):
                value = int(raw)
            elif isinstance(default, float):
                value = float(raw)
            else:
                value = raw
        except ValueError:
            kind = type(default).__name__
            raise ValueError(f"{key}={raw}: expected a {kind} like {default!r}") from None
        out[key] = value
    if not out:
        raise ValueError("no parameters given: key=value ...")
    return out


# A strategy's intent waiting for its hook to return: (context, client id or "" in observe,
# symbol, side, lots, ticks, time in force, reduce-only), or a cancel: (context, client id).
# Plain tuples: a hook that requotes makes several, and each costs tens of nanoseconds.
_Queued = tuple["StrategyContext", str, str, Side, int, int, TimeInForce, bool]
_Cancel = tuple["StrategyContext", str]
_SIDES: Final = frozenset(Side)
_TIFS: Final = frozenset(TimeInForce)


class StrategyContext:
    """The `hftui.strategy.Context` a strategy acts through; one per strategy, kept across
    reloads."""

    __slots__ = (
        "_dry",
        "_execution",
        "_host",
        "_name",
        "_orders",
        "_queued",
        "fills",
        "held",
        "intents",
        "last_reason",
    )

    def __init__(
        self, name: str, execution: Execution, host: StrategyHost, dry: bool = False
    ) -> None:
        self._name = name
        self._execution = execution
        self._host = host
        self._dry = dry  # a throwaway start's context: intents do nothing
        self._orders: dict[str, str] = {}  # client id -> symbol, this strategy's orders
        self._queued: dict[str, _Queued] = {}  # client id -> a place not routed yet
        self.last_reason = Reason.OK
        self.intents = 0  # this strategy's intents that reached risk
        self.held = 0  # ... held back by max_mode
        self.fills = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._execution.instruments)

    @property
    def mode(self) -> Mode:
        return self._execution.mode

    def now_ns(self) -> int:
        return self._execution.clock_ns()

    def ticks(self, symbol: str, price: str) -> int:
        return self._instrument(symbol).price_ticks(price)

    def lots(self, symbol: str, qty: str) -> int:
        return self._instrument(symbol).qty_lots(qty)

    def _instrument(self, symbol: str) -> Instrument:
        inst = self._execution.instruments.get(symbol)
        if inst is None:  # a strategy's params naming a symbol the engine does not trade
            known = ", ".join(self._execution.instruments) or "none yet"
            raise ValueError(f"{symbol} is not one of the engine's symbols ({known})")
        return inst

    def position(self, symbol: str) -> int:
        # The account keeps each strategy's book per mode: paper fills never count in live,
        # and an earlier run's position is there after a restart (resume_strategy_positions).
        ex = self._execution
        return ex.account.strategy_lots(ex.mode, self._name, symbol)

    def is_open(self, client_id: str) -> bool:
        if client_id not in self._orders:
            return False
        if client_id in self._queued:
            return True  # placed in this hook; routed when it returns
        order = self._execution.tracker.get(client_id)
        if order is None or not order.open:
            del self._orders[client_id]
            return False
        return True

    def open_orders(self, symbol: str = "") -> list[str]:
        return [
            cid
            for cid, owned in list(self._orders.items())
            if (not symbol or owned == symbol) and self.is_open(cid)
        ]

    def place(
        self,
        symbol: str,
        side: Side,
        qty: int,
        price: int = 0,
        tif: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
    ) -> str:
        # Only the cheap checks happen here; risk and execution see the intent when the
        # hook returns (`StrategyHost.route`), so a hook's cost is its own decision's.
        if (
            type(qty) is not int
            or type(price) is not int
            or side not in _SIDES
            or tif not in _TIFS
            or type(reduce_only) is not bool
        ):
            raise TypeError(
                f"place({symbol!r}, {side!r}, {qty!r}, {price!r}, {tif!r}, {reduce_only!r}): "
                "side is a Side, qty and price are int lots and ticks (int(...) a float or a "
                "numpy number), tif a TimeInForce, reduce_only a bool"
            )
        ex, host = self._execution, self._host
        slot = host.slots.get(self._name)
        if self._dry or slot is None or slot.paused:  # paused, unloaded, or a dry start
            self.last_reason = Reason.HALTED
            return ""
        mode = ex.mode
        if mode > host.config.max_mode:
            self.last_reason = Reason.HALTED  # see [strategies] max_mode
            host.held += 1
            self.held += 1
            return ""
        if ex.exposure.killed:
            # The latch refuses every order anyway: a strategy asking again on each book
            # change would only repeat that refusal to the trader many times a second.
            self.last_reason = Reason.KILLED
            host.held += 1
            self.held += 1
            return ""
        cid = "" if mode == Mode.OBSERVE else ex.next_client_id(self._name)
        entry = (self, cid, symbol, side, qty, price, tif, reduce_only)
        host.queue.append(entry)
        if cid:
            self._queued[cid] = entry
            self._orders[cid] = symbol
        return cid

    def cancel(self, client_id: str) -> bool:
        if self._dry or not self.is_open(client_id):
            return False
        entry = self._queued.pop(client_id, None)
        if entry is not None:  # placed in this same hook: it never goes out
            self._host.queue.remove(entry)
            del self._orders[client_id]
            return True
        self._host.queue.append((self, client_id))
        return True

    def replace(self, client_id: str, price: int, qty: int = 0) -> str:
        queued = self._queued.get(client_id)
        if queued is not None:  # placed in this same hook: place it anew instead
            _, _, symbol, side, old_qty, _, tif, reduce_only = queued
            self.cancel(client_id)
            return self.place(symbol, side, qty or old_qty, price, tif, reduce_only)
        order = self._execution.tracker.get(client_id)
        if order is None or client_id not in self._orders or not order.open:
            self.last_reason = Reason.NOT_FOUND
            return ""
        old = order.intent
        left = (qty or old.qty) - order.filled
        if left <= 0:
            self.last_reason = Reason.BAD_QTY
            return ""
        self.cancel(client_id)
        return self.place(old.symbol, old.side, left, price, old.tif, old.reduce_only)

    def route(self, entry: _Queued | _Cancel) -> None:
        """Put one queued intent through risk and execution (`StrategyHost.route`)."""
        ex = self._execution
        if len(entry) == 2:
            ex.cancel(entry[1])
            return
        _, cid, symbol, side, qty, price, tif, reduce_only = entry
        if cid:
            del self._queued[cid]
        intent = OrderIntent(
            symbol,
            side,
            Lots(qty),
            Ticks(price),
            OrderType.LIMIT if price else OrderType.MARKET,
            tif,
            reduce_only,
            self._name,
        )
        outcome = ex.place(intent, None, ClientId(cid) if cid else None)
        self.last_reason = outcome.reason
        self._host.intents += 1
        self.intents += 1
        if cid and not outcome.client_id:  # refused: it never became an order
            self._orders.pop(cid, None)

    def drop_queued(self) -> int:
        """Forget this strategy's intents not routed yet (it failed or was paused in the
        hook that made them: half a decision never goes out)."""
        queue = self._host.queue
        mine = [entry for entry in queue if entry[0] is self]
        for entry in mine:
            queue.remove(entry)
        for cid in self._queued:
            self._orders.pop(cid, None)
        self._queued.clear()
        return len(mine)

    def log(self, text: str) -> None:
        log.info(text, extra={"strategy": self._name})

    def on_fill(self, fill: Fill) -> None:
        self.fills += 1

    def cancel_all(self) -> int:
        """Cancel every working order; returns how many are on their way out (an order
        whose cancel is already pending, e.g. from on_stop, is not asked again). Intents
        not routed yet are dropped."""
        self.drop_queued()
        ex, count = self._execution, 0
        for cid in self.open_orders():
            order = ex.tracker.get(cid)
            if (order is not None and order.cancel_requested) or ex.cancel(cid).ok:
                count += 1
        return count


class StrategySlot:
    """One enabled strategy: what is loaded, its state and its figures."""

    def __init__(self, name: str, path: Path | None) -> None:
        self.name = name
        self.path = path
        self.plugin: Plugin | None = None
        self.strategy: Strategy[Params] | None = None
        self.context: StrategyContext | None = None
        self.paused = False
        self.by_trader = False  # paused by the trader's command (a choice, not a fault)
        self.why = ""  # why it is paused or not loaded
        self.last_alert = ""  # the host's last alert about this strategy
        self.overrides: dict[str, object] = {}  # parameters set live, over the config's
        self.errors = 0
        self.overruns = 0
        self.reloads = 0
        self.failed_mtime_ns = 0  # the file version that last failed to load (reported once)
        self.next_timer_ns = 0
        self.latency = {hook: LatencyHistogram() for hook in _HOOKS}
        self.book_latency = self.latency["book"]  # bound once: read on every book update
        self.trade_latency = self.latency["trade"]

    @property
    def state(self) -> str:
        if self.strategy is None:
            return "failed"
        return "paused" if self.paused else "running"


class StrategyHost:
    """Runs the enabled strategies on the engine's loop."""

    def __init__(
        self,
        config: StrategiesConfig,
        execution: Execution,
        publish: Callable[[Event], None],
    ) -> None:
        self.config = config
        self.execution = execution
        self.publish = publish
        self.budget_ns = int(config.callback_budget_ms * 1e6)
        self.slots: dict[str, StrategySlot] = {}
        self._running: list[StrategySlot] = []  # loaded and not paused: the hot path's list
        self._fills: list[Fill] = []  # delivered after execution has finished the event
        self._fill_pending = False
        # Intents made by the hook running now, routed in order when it returns.
        self.queue: list[_Queued | _Cancel] = []
        self.intents = 0  # intents that reached risk
        self.held = 0  # intents held back by max_mode
        self._stopped = False
        # The contexts of strategies disabled live: one enabled again takes its own back, so
        # it sees the position its earlier fills left (and its counts go on).
        self._retired: dict[str, StrategyContext] = {}

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Load and start every enabled strategy; one that fails is reported, not fatal."""
        found = discover(self.config.path)
        for name in self.config.enabled:
            self._load(name, found)
        self._rebuild()

    def _load(self, name: str, found: Mapping[str, Path]) -> StrategySlot:
        slot = StrategySlot(name, found.get(name))
        self.slots[name] = slot
        if slot.path is None:
            where = f"strategies/ or {self.config.path}" if self.config.path else "strategies/"
            slot.why = f"strategy {name}: no file {name}.py in {where}"
            self._alert(logging.ERROR, f"strategy not loaded: {slot.why}", slot)
        else:
            self.reload(name)
        return slot

    def set_enabled(self, config: StrategiesConfig) -> list[str]:
        """Put `config`'s enabled list in force under the running engine (with its parameters,
        which a newly enabled strategy starts with): a strategy no longer listed is stopped
        and unloaded, one newly listed is loaded and started. Returns one sentence for each.
        `path` and `max_mode` stay as they are (they need a restart)."""
        self.config = dataclasses.replace(
            self.config,
            enabled=config.enabled,
            params=config.params,
            callback_budget_ms=config.callback_budget_ms,
        )
        done = [self.unload(name) for name in list(self.slots) if name not in config.enabled]
        new = [name for name in config.enabled if name not in self.slots]
        found = discover(self.config.path) if new else {}
        for name in new:
            slot = self._load(name, found)
            done.append(slot.last_alert)
        self._rebuild()
        return done

    def unload(self, name: str) -> str:
        """Stop `name`: its on_stop, then its open orders cancelled (through execution, as
        any cancel), and it leaves the host. Its fills stay in the account's books and its
        context is kept, so enabled again it has its P&L and its position back."""
        slot = self.slots[name]
        if slot.strategy is not None and not self._stopped:
            self._guard(slot, "stop", slot.strategy.on_stop, pause=False)
        cancelled = slot.context.cancel_all() if slot.context is not None else 0
        del self.slots[name]
        if slot.context is not None:
            self._retired[name] = slot.context
        self._rebuild()
        tail = f"; {cancelled} open orders cancelled" if cancelled else ""
        text = f"strategy {name} stopped and unloaded{tail}"
        self._alert(logging.INFO, text)
        return text

    def stop(self) -> None:
        """Call every strategy's on_stop (the engine is stopping)."""
        if self._stopped:
            return
        self._stopped = True
        for slot in self.slots.values():
            if slot.strategy is not None:
                self._guard(slot, "stop", slot.strategy.on_stop, pause=False)
        self._running = []

    async def run(self) -> None:
        """Timers and hot reload, until cancelled."""
        next_scan = time.monotonic() + self.config.reload_interval_s
        while not self._stopped:
            await asyncio.sleep(_TICK_S)
            self.tick_timers(self.execution.clock_ns())
            if time.monotonic() >= next_scan:
                next_scan = time.monotonic() + self.config.reload_interval_s
                self.check_reload()

    def attach(self, market: MarketData) -> None:
        """Chain the strategies after whatever already handles books and trades."""
        before_book, before_trade = market.on_book, market.on_trade
        on_book, on_trade = self.on_book, self.on_trade
        if before_book is not None:
            first_book = before_book

            def chained_book(symbol: str, book: OrderBook, now_ns: int) -> None:
                first_book(symbol, book, now_ns)
                on_book(symbol, book, now_ns)

            market.on_book = chained_book
        else:
            market.on_book = on_book
        if before_trade is not None:
            first_trade = before_trade

            def chained_trade(
                symbol: str, price: int, qty: int, buyer_maker: bool, now_ns: int
            ) -> None:
                first_trade(symbol, price, qty, buyer_maker, now_ns)
                on_trade(symbol, price, qty, buyer_maker, now_ns)

            market.on_trade = chained_trade
        else:
            market.on_trade = on_trade

    # ---- the hot path ---------------------------------------------------------------------

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        clock = time.perf_counter_ns
        budget = self.budget_ns
        timings = self.execution.timings
        timings.trigger_ns = now_ns  # orders placed now have this frame's tick-to-order
        try:
            for slot in self._running:
                strategy = slot.strategy
                if strategy is None or slot.paused:
                    continue
                t0 = clock()
                try:
                    strategy.on_book(symbol, book, now_ns)
                except Exception as exc:
                    self._failed(slot, "on_book", exc)
                    continue
                spent = clock() - t0
                slot.book_latency.observe(spent)
                if spent > budget:
                    self._overrun(slot, "on_book", spent)
            if self.queue:
                self.route()
        finally:
            timings.trigger_ns = 0

    def on_trade(self, symbol: str, price: int, qty: int, buyer_maker: bool, now_ns: int) -> None:
        clock = time.perf_counter_ns
        budget = self.budget_ns
        timings = self.execution.timings
        timings.trigger_ns = now_ns
        try:
            for slot in self._running:
                strategy = slot.strategy
                if strategy is None or slot.paused:
                    continue
                t0 = clock()
                try:
                    strategy.on_trade(symbol, price, qty, buyer_maker, now_ns)
                except Exception as exc:
                    self._failed(slot, "on_trade", exc)
                    continue
                spent = clock() - t0
                slot.trade_latency.observe(spent)
                if spent > budget:
                    self._overrun(slot, "on_trade", spent)
            if self.queue:
                self.route()
        finally:
            timings.trigger_ns = 0

    def route(self) -> None:
        """Route the intents the hooks just made, in the order they made them. Entries are
        taken one at a time: routing can call a hook (a fill), which may queue more."""
        queue = self.queue
        while queue:
            entry = queue.pop(0)
            context = entry[0]
            try:
                context.route(entry)
            except Exception as exc:  # never into the feed that called the hook
                slot = self.slots.get(context.name)
                if slot is None:
                    log.exception("intent not routed", extra={"strategy": context.name})
                else:
                    self._failed(slot, "an intent's routing", exc)

    def on_fill(self, fill: Fill) -> None:
        """A fill from execution: delivered once execution has finished applying it, so a
        strategy acting on it never re-enters execution mid-update."""
        if fill.strategy not in self.slots:
            return
        self._fills.append(fill)
        if not self._fill_pending:
            self._fill_pending = True
            try:
                asyncio.get_running_loop().call_soon(self.deliver_fills)
            except RuntimeError:  # no loop (tests driving the host by hand)
                self.deliver_fills()

    def deliver_fills(self) -> None:
        self._fill_pending = False
        fills, self._fills = self._fills, []
        for fill in fills:
            slot = self.slots.get(fill.strategy)
            if slot is None or slot.context is None:
                continue
            slot.context.on_fill(fill)  # the position counts even while paused
            if slot.strategy is not None and not slot.paused:
                self._guard(slot, "fill", slot.strategy.on_fill, fill)

    def tick_timers(self, now_ns: int) -> None:
        for slot in self._running:
            strategy = slot.strategy
            if strategy is None or slot.paused or strategy.timer_interval_s <= 0:
                continue
            if now_ns >= slot.next_timer_ns:
                slot.next_timer_ns = now_ns + int(strategy.timer_interval_s * 1e9)
                self._guard(slot, "timer", strategy.on_timer, now_ns)

    # ---- guard ----------------------------------------------------------------------------

    def _guard(
        self,
        slot: StrategySlot,
        hook: str,
        call: Callable[..., None],
        *args: object,
        pause: bool = True,
    ) -> bool:
        # Off the hot path: start, stop, fills, timers, reloads.
        t0 = time.perf_counter_ns()
        try:
            call(*args)
        except Exception as exc:
            if pause:
                self._failed(slot, f"on_{hook}", exc)
            else:
                log.exception("strategy hook failed", extra={"strategy": slot.name})
            return False
        spent = time.perf_counter_ns() - t0
        if hook in slot.latency:
            slot.latency[hook].observe(spent)
        if pause and hook not in ("start", "stop") and spent > self.budget_ns:
            self._overrun(slot, f"on_{hook}", spent)
            return False
        self.route()
        return True

    def _failed(self, slot: StrategySlot, hook: str, exc: Exception) -> None:
        slot.errors += 1
        log.error("strategy raised", exc_info=exc, extra={"strategy": slot.name, "hook": hook})
        self._pause(slot, f"{hook} raised {type(exc).__name__}: {exc}")

    def _overrun(self, slot: StrategySlot, hook: str, spent_ns: int) -> None:
        slot.overruns += 1
        self._pause(
            slot,
            f"{hook} took {spent_ns / 1e6:.1f} ms, over its budget of "
            f"{self.config.callback_budget_ms:g} ms",
        )

    def _pause(self, slot: StrategySlot, why: str, by_trader: bool = False) -> None:
        if slot.paused:
            return
        slot.paused, slot.by_trader = True, by_trader
        slot.why = why
        cancelled = slot.context.cancel_all() if slot.context is not None else 0
        self._rebuild()
        tail = f"; {cancelled} open orders cancelled" if cancelled else ""
        # The trader's own pause is news, not an error: it must not look like a fault.
        level = logging.INFO if by_trader else logging.ERROR
        self._alert(level, f"strategy {slot.name} paused: {why}{tail}", slot)

    def _alert(self, level: int, text: str, slot: StrategySlot | None = None) -> None:
        log.log(level, text)
        if slot is not None:
            slot.last_alert = text
        self.publish(AlertRaised(level, text))

    def _rebuild(self) -> None:
        self._running = [s for s in self.slots.values() if s.strategy is not None and not s.paused]

    # ---- commands -------------------------------------------------------------------------

    def paused(self, name: str) -> bool:
        slot = self.slots.get(name)
        return slot is None or slot.paused

    def pause(self, name: str) -> Outcome:
        """The trader's pause (a command)."""
        slot = self.slots.get(name)
        if slot is None or slot.strategy is None:
            return self._not_found(name)
        if slot.paused:
            return Outcome(Reason.OK, f"strategy {name} already paused: {slot.why}")
        self._pause(slot, "paused by the trader", by_trader=True)
        return Outcome(Reason.OK, f"strategy {name} paused")

    def resume(self, name: str) -> Outcome:
        slot = self.slots.get(name)
        if slot is None or slot.strategy is None:
            return self._not_found(name)
        if not slot.paused:
            return Outcome(Reason.OK, f"strategy {name} already running")
        slot.paused = slot.by_trader = False
        slot.why = ""
        self._rebuild()
        self._alert(logging.INFO, f"strategy {name} resumed", slot)
        return Outcome(Reason.OK, f"strategy {name} resumed")

    def command(self, command: StrategyCommand) -> Outcome:
        """The answer to a PauseStrategy/ResumeStrategy/ReloadStrategy/SetStrategyParams."""
        match command:
            case PauseStrategy():
                return self.pause(command.name)
            case ResumeStrategy():
                return self.resume(command.name)
            case ReloadStrategy():
                return self.reload_command(command.name)
            case SetStrategyParams():
                return self.set_params(command.name, command.params)

    def reload_command(self, name: str) -> Outcome:
        """Reload `name` from its file now, whether or not it changed."""
        slot = self.slots.get(name)
        if slot is None or slot.path is None:
            return self._not_found(name)
        if self.reload(name):
            return Outcome(Reason.OK, f"strategy {name} reloaded from {slot.path}")
        return Outcome(Reason.BAD_COMMAND, slot.last_alert or f"strategy {name} did not load")

    def set_params(self, name: str, text: str) -> Outcome:
        """Put new parameter values in force; a bad key or value changes nothing."""
        slot = self.slots.get(name)
        if slot is None or slot.strategy is None or slot.plugin is None:
            return self._not_found(name)
        plugin, old = slot.plugin, slot.strategy
        try:
            values = parse_params_text(plugin.cls.params_type, text)
            merged = {**self.config.params_of(name), **slot.overrides, **values}
            params = build_params(plugin, merged)
        except (ValueError, StrategyLoadError) as exc:
            return Outcome(Reason.BAD_COMMAND, f"strategy {name}: {exc}")
        changes = [
            f"{key} {getattr(old.params, key)} -> {getattr(params, key)}"
            for key in values
            if getattr(old.params, key) != getattr(params, key)
        ]
        if not changes:
            return Outcome(Reason.OK, f"strategy {name}: parameters unchanged")
        try:
            new = self._restart(old, plugin.cls, params)
        except Exception as exc:
            if slot.context is not None:
                slot.context.drop_queued()
            log.exception("strategy restart failed", extra={"strategy": name})
            return Outcome(
                Reason.BAD_COMMAND,
                f"strategy {name}: on_start refused the parameters: {exc!r}; nothing changed",
            )
        slot.strategy = new
        slot.overrides.update(values)
        self._rebuild()
        self.route()
        text = f"strategy {name} parameters: " + ", ".join(changes)
        self._alert(logging.INFO, text, slot)
        return Outcome(Reason.OK, text)

    def _restart(
        self, old: Strategy[Params], cls: type[Strategy[Params]], params: Params
    ) -> Strategy[Params]:
        # What on_start derives from the parameters differs between a start with the old
        # parameters and one with the new: that comes from the new start, the rest carries.
        new = cls(old.ctx, params)
        new.on_start()
        dry = cls(StrategyContext(old.ctx.name, self.execution, self, dry=True), old.params)
        dry.on_start()
        fresh, base = new.snapshot_state(), dry.snapshot_state()
        missing = object()
        carried = {
            key: value
            for key, value in old.snapshot_state().items()
            if not _differs(fresh.get(key, missing), base.get(key, missing))
        }
        new.restore_state(carried)
        return new

    def _not_found(self, name: str) -> Outcome:
        slot = self.slots.get(name)
        if slot is not None:
            return Outcome(Reason.NOT_FOUND, f"strategy {name} is not loaded: {slot.why}")
        loaded = ", ".join(self.slots) or "none"
        return Outcome(Reason.NOT_FOUND, f"no strategy named {name!r}; enabled: {loaded}")

    # ---- hot reload -----------------------------------------------------------------------

    def check_reload(self) -> list[str]:
        """Reload every strategy whose file changed; returns their names."""
        reloaded = []
        for slot in self.slots.values():
            if slot.path is None:
                continue
            try:
                mtime = slot.path.stat().st_mtime_ns
            except OSError:
                continue
            if slot.plugin is not None and mtime == slot.plugin.mtime_ns:
                continue
            if mtime == slot.failed_mtime_ns:
                continue  # still the broken file already reported
            if self.reload(slot.name):
                reloaded.append(slot.name)
        return reloaded

    def reload(self, name: str) -> bool:
        """Load `name`'s file afresh and swap the instance, carrying its state and orders.
        False (with an alert) when the new file does not load; the old instance runs on."""
        slot = self.slots[name]
        if slot.path is None:
            return False
        try:
            plugin = load_plugin(name, slot.path)
            params = build_params(plugin, {**self.config.params_of(name), **slot.overrides})
        except StrategyLoadError as exc:
            self._reload_failed(slot, str(exc))
            return False
        context = (
            slot.context
            or self._retired.pop(name, None)
            or StrategyContext(name, self.execution, self)
        )
        old = slot.strategy
        try:
            new = plugin.cls(context, params)
            new.on_start()
            if old is not None:
                new.restore_state(old.snapshot_state())
        except Exception as exc:
            context.drop_queued()
            log.exception("strategy start failed", extra={"strategy": name})
            self._reload_failed(slot, f"strategy {name}: on_start raised {exc!r}")
            return False
        slot.plugin, slot.context, slot.strategy = plugin, context, new
        self.route()  # anything on_start asked for
        slot.reloads += old is not None
        slot.failed_mtime_ns = 0
        if old is None:
            slot.why = ""
        self._rebuild()
        verb = "started" if old is None else "reloaded"
        self._alert(logging.INFO, f"strategy {name} {verb} from {slot.path}", slot)
        return True

    def _reload_failed(self, slot: StrategySlot, why: str) -> None:
        try:
            slot.failed_mtime_ns = slot.path.stat().st_mtime_ns if slot.path else 0
        except OSError:
            slot.failed_mtime_ns = 0
        if slot.strategy is not None:
            self._alert(logging.ERROR, f"{why}; the previous version keeps running", slot)
        else:
            slot.why = why
            self._alert(logging.ERROR, f"strategy not loaded: {why}", slot)

    # ---- figures --------------------------------------------------------------------------

    def status(self) -> list[dict[str, object]]:
        """Each strategy's state and decision cost (p50/p99 upper bounds, ns)."""
        return [self._row(slot) for slot in self.slots.values()]

    def _row(self, slot: StrategySlot) -> dict[str, object]:
        return {
            "name": slot.name,
            "state": slot.state,
            "why": slot.why,
            "errors": slot.errors,
            "overruns": slot.overruns,
            "reloads": slot.reloads,
            "open_orders": len(slot.context.open_orders()) if slot.context else 0,
            "latency": {
                hook: {
                    "count": h.count,
                    "p50_ns": h.quantile_ns(0.5),
                    "p99_ns": h.quantile_ns(0.99),
                }
                for hook, h in slot.latency.items()
            },
        }

    def figures(
        self, marks: Mapping[str, float], pnl: Callable[[str], tuple[float, float, float]]
    ) -> list[StrategyFigures]:
        """Every strategy's state and figures for the snapshot; `pnl(name)` gives its own
        (realized, unrealized, fees) in USDT."""
        out = []
        for slot in self.slots.values():
            ctx = slot.context
            book = slot.book_latency
            realized, unrealized, fees = pnl(slot.name)
            out.append(
                StrategyFigures(
                    name=slot.name,
                    state=slot.state,
                    why=slot.why,
                    last_alert=slot.last_alert,
                    intents=ctx.intents if ctx else 0,
                    held=ctx.held if ctx else 0,
                    open_orders=len(ctx.open_orders()) if ctx else 0,
                    fills=ctx.fills if ctx else 0,
                    errors=slot.errors,
                    overruns=slot.overruns,
                    reloads=slot.reloads,
                    realized=realized,
                    unrealized=unrealized,
                    fees=fees,
                    p50_ns=book.quantile_ns(0.5),
                    p99_ns=book.quantile_ns(0.99),
                    max_ns=max(h.quantile_ns(1.0) for h in slot.latency.values()),
                    calls=book.count,
                    params=params_text(slot.strategy.params) if slot.strategy else "",
                    by_trader=slot.paused and slot.by_trader,
                )
            )
        return out


def _differs(a: object, b: object) -> bool:
    try:
        return bool(a != b)
    except Exception:  # e.g. an array compared element-wise: treat as derived
        return True
