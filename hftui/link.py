"""The TUI's reader of engine state: one pass over shared memory per frame.

`EngineLink.poll()` copies the header and every symbol block that changed since the last
poll, and turns them into immutable view models of pre-formatted strings, so widgets do no
number formatting when they repaint. A symbol block whose sequence number has not moved is
not copied or formatted again: its previous view is reused with only its age brought up to
date. The link never writes to the region and never blocks on the engine.

`CommandLink` is the other direction: it queues the trader's commands on the engine's
command ring and turns what comes back on the event ring (answers to this TUI's requests,
alerts, mode changes, a lapped reader) into `Notice`s, one line each, for the dashboard.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from hftui.ipc import RegionError, SnapshotReader, TornReadError
from hftui.protocol import (
    MANUAL_ORDER_PREFIX,
    MAX_SYMBOLS,
    STRATEGY_STATES,
    TRADE_SLOTS,
    AlertRaised,
    Command,
    CommandAnswered,
    Event,
    FeedState,
    Heartbeat,
    Mode,
    ModeChanged,
    OrderChanged,
    OrderStatus,
    OrderType,
    Side,
    StrategyFigures,
    TimeInForce,
    decode_text,
    format_units,
)
from hftui.rings import RingError, RingFullError

if TYPE_CHECKING:
    import numpy as np

    from hftui.instance import InstanceInfo
    from hftui.remote import EngineControl

__all__ = [
    "ANSWER_TIMEOUT_S",
    "HEARTBEAT_DEAD_S",
    "INTENT_TITLE",
    "STALE_AFTER_S",
    "CommandLink",
    "EngineLink",
    "EngineStatus",
    "EngineView",
    "LadderLevel",
    "Notice",
    "OrderRow",
    "Severity",
    "SymbolView",
    "TradeRow",
    "age_text",
    "strategy_rows",
]

STALE_AFTER_S: Final = 2.0  # book data older than this is drawn greyed out
HEARTBEAT_DEAD_S: Final = 2.0  # an engine silent for longer than this is not responding
# The engine answers within milliseconds, a kill with venue round trips within a second or
# two: a request still unanswered after this long is worth telling the trader about.
ANSWER_TIMEOUT_S: Final = 5.0
# The notice title of a report below INFO ("would send" in observe): not an alert.
INTENT_TITLE: Final = "intent"


class EngineStatus(enum.StrEnum):
    """What the TUI can tell about the engine from its header."""

    WAITING = "waiting"  # nothing published yet
    STARTING = "starting"  # alive, venue endpoints not known yet
    UP = "up"
    STOPPING = "stopping"  # said it is shutting down, still publishing
    STOPPED = "stopped"  # said it was shutting down, then went quiet
    NOT_RESPONDING = "not responding"  # went quiet without saying so


@dataclass(frozen=True, slots=True)
class LadderLevel:
    price: str
    qty: str
    cumulative: str
    cum_units: int  # for the depth bar


@dataclass(frozen=True, slots=True)
class TradeRow:
    time: str  # HH:MM:SS.mmm UTC
    side: str  # BUY or SELL, from the taker's side
    price: str
    qty: str


@dataclass(frozen=True, slots=True)
class SymbolView:
    """One symbol's book top and trades, formatted; equal `seq` means the same content."""

    symbol: str
    seq: int  # sequence number of the block this was built from
    synced: bool
    feed_state: FeedState
    last_update_id: int
    age_s: float | None  # since the last frame for this symbol; None if never
    age: str  # `age_s` as shown: coarse, so that a quiet book is not redrawn every frame
    bids: tuple[LadderLevel, ...]  # best first
    asks: tuple[LadderLevel, ...]  # best first
    best_bid: str
    best_ask: str
    spread: str
    mid: str
    price_width: int  # widest formatted price, size and cumulative size among the levels
    qty_width: int
    cum_width: int
    trade_count: int  # trades ever published: unchanged means the same `trades`
    trades: tuple[TradeRow, ...]  # newest first
    trade_price_width: int
    trade_qty_width: int
    gaps: int
    resyncs: int
    msgs_total: int
    # The grid and the position in the current mode, for order entry and the P&L panel.
    price_decimals: int = 0
    qty_decimals: int = 0
    tick_units: int = 1
    bid_units: int = -1  # best bid in price units; -1 when the side is empty
    ask_units: int = -1
    position_units: int = 0  # signed, qty units
    position: str = "0"
    entry: str = "-"  # "-" when flat
    mark: str = "-"  # the venue's mark price; "-" before the first one
    realized: float = 0.0  # USDT
    unrealized: float = 0.0
    fees: float = 0.0
    funding: float = 0.0  # USDT: + received, - paid
    open_orders: int = 0

    @property
    def stale(self) -> bool:
        """Nothing to trust on screen: not synced, never updated, or too old."""
        return not self.synced or self.age_s is None or self.age_s > STALE_AFTER_S


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One open order, formatted with its symbol's decimals."""

    client_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: str  # "" for a market order
    price_units: int  # 0 for a market order
    qty: str
    filled: str
    status: OrderStatus
    post_only: bool
    reduce_only: bool
    strategy: str  # "" for the trader's own (shell or TUI)
    created_ns: int


def strategy_rows(block: np.void) -> tuple[StrategyFigures, ...]:
    """The strategies of a strategies block (`SnapshotReader.strategies`)."""
    out = []
    for row in block["rows"][: int(block["count"])]:
        state = int(row["state"])
        out.append(
            StrategyFigures(
                name=decode_text(row["name"]),
                state=STRATEGY_STATES[state] if state < len(STRATEGY_STATES) else "?",
                by_trader=bool(row["by_trader"]),
                why=decode_text(row["why"]),
                last_alert=decode_text(row["last_alert"]),
                intents=int(row["intents"]),
                held=int(row["held"]),
                open_orders=int(row["open_orders"]),
                fills=int(row["fills"]),
                errors=int(row["errors"]),
                overruns=int(row["overruns"]),
                reloads=int(row["reloads"]),
                realized=float(row["realized"]),
                unrealized=float(row["unrealized"]),
                fees=float(row["fees"]),
                p50_ns=int(row["p50_ns"]),
                p99_ns=int(row["p99_ns"]),
                max_ns=int(row["max_ns"]),
                calls=int(row["calls"]),
                params=decode_text(row["params"]),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class EngineView:
    alive: bool
    status: EngineStatus
    pid: int
    venue: str
    venue_url: str
    mode: Mode
    killed: bool
    killed_at: str  # HH:MM:SS UTC of the kill; "" when armed or unknown
    kill_reason: str  # "" when armed
    kill_flatten: bool  # the kill also flattened positions
    has_keys: bool  # live is possible: API keys, or the local venue's demo account
    open_orders: int
    refusals: int  # commands and intents refused since the engine started
    ws_connected: bool
    msgs_per_s: float
    bad_frames: int
    reconnects: int
    heartbeat_age_s: float | None  # None before the first heartbeat
    uptime: str  # since the engine started, e.g. "1h02m"; "" if unknown
    symbols: tuple[SymbolView, ...]
    controller_pid: int = 0  # the TUI in control of the engine; 0: none
    dead_man_cancel: bool = True  # without its TUI the engine cancels and observes (or keeps)
    dead_man_after_s: float = 10.0  # after this long without the controller's heartbeat
    read_only: bool = False  # set by the app: another TUI controls, this one watches
    realized: float = 0.0  # USDT today, all symbols, this mode
    unrealized: float = 0.0
    fees: float = 0.0
    daily_pnl: float = 0.0  # realized + unrealized - fees + funding (today, UTC)
    funding: float = 0.0  # USDT today: + received, - paid
    wallet: float | None = None  # the live USDT wallet as the venue states it; None unknown
    reconciled_age_s: float | None = None  # since the last check against the venue; None never
    reconcile_mismatches: int = 0  # found since the engine started
    orders: tuple[OrderRow, ...] = ()  # open orders, as many as the block holds
    orders_total: int = 0  # open orders in all, shown or not
    strategies: tuple[StrategyFigures, ...] = ()  # the strategy host's, as many as the block holds
    now_ns: int = 0  # the link's clock when this was read: ages are measured from it
    t2o_p50_ns: int = 0  # tick-to-order of the recent strategy orders; 0: none yet
    t2o_p99_ns: int = 0


def age_text(seconds: float | None) -> str:
    """A duration as the TUI shows ages: "<1s", "42s", "3m05s", "2h10m", or "never".

    Whole seconds on purpose: the text of a fresh feed stays "<1s", so its widgets repaint
    only when the data itself changes.
    """
    if seconds is None:
        return "never"
    if seconds < 1.0:
        return "<1s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _clock_text(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return f"{_hms(seconds)}.{millis:03d}"


@functools.lru_cache(maxsize=256)
def _hms(seconds: int) -> str:
    # Trades on the tape share their seconds: strftime once per second, not per trade.
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


def _utc_seconds(ns: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ns // 1_000_000_000))


def _killed_at(ns: int) -> str:
    # A latch file may carry no time (0): then say nothing rather than 00:00:00.
    return f"{_utc_seconds(ns)} UTC" if ns > 0 else ""


class _Recent:
    """One block's rows as formatted by its last build, by their raw values.

    From one frame to the next most book levels and all but the newest trades are the same:
    their rows are taken from here, and only what changed is formatted. It keeps the rows of
    the last build only, so it never grows.
    """

    def __init__(self) -> None:
        self._levels: dict[tuple[int, int, int, int, int], LadderLevel] = {}
        self._trades: dict[tuple[int, int, int, int, int, int], TradeRow] = {}
        self._next_levels: dict[tuple[int, int, int, int, int], LadderLevel] = {}

    def levels(
        self, px: np.ndarray, qty: np.ndarray, n: int, pd: int, qd: int
    ) -> tuple[LadderLevel, ...]:
        # Python ints up front (`tolist`): indexing a numpy array per value costs more than
        # formatting it.
        old, new = self._levels, self._next_levels
        levels = []
        cumulative = 0
        for price, size in zip(px[:n].tolist(), qty[:n].tolist(), strict=True):
            cumulative += size
            key = (price, size, cumulative, pd, qd)
            level = old.get(key)
            if level is None:
                level = LadderLevel(
                    format_units(price, pd),
                    format_units(size, qd),
                    format_units(cumulative, qd),
                    cumulative,
                )
            new[key] = level
            levels.append(level)
        return tuple(levels)

    def trades(self, record: np.void, count: int, pd: int, qd: int) -> tuple[TradeRow, ...]:
        times = record["trade_time_ms"].tolist()
        sold = record["trade_buyer_maker"].tolist()  # the taker sold
        prices = record["trade_px"].tolist()
        sizes = record["trade_qty"].tolist()
        old: dict[tuple[int, int, int, int, int, int], TradeRow] = self._trades
        new: dict[tuple[int, int, int, int, int, int], TradeRow] = {}
        rows = []
        for k in range(count - 1, max(-1, count - 1 - TRADE_SLOTS), -1):
            slot = k % TRADE_SLOTS
            key = (times[slot], sold[slot], prices[slot], sizes[slot], pd, qd)
            row = old.get(key)
            if row is None:
                row = TradeRow(
                    _clock_text(times[slot]),
                    "SELL" if sold[slot] else "BUY",
                    format_units(prices[slot], pd),
                    format_units(sizes[slot], qd),
                )
            new[key] = row
            rows.append(row)
        self._trades = new
        return tuple(rows)

    def built(self) -> None:
        """One build is over (both sides of the book): the next one looks up its levels."""
        self._levels, self._next_levels = self._next_levels, {}


def _mid(bid: int, ask: int, decimals: int) -> str:
    # The mid may fall between two units: one more decimal keeps it exact.
    text = format_units((bid + ask) * 5, decimals + 1)
    return text[:-1] if text.endswith("0") else text


def _widest(texts: list[str], floor: int) -> int:
    return max(floor, *map(len, texts)) if texts else floor


def symbol_view(
    record: np.void,
    seq: int,
    now_ns: int,
    previous: SymbolView | None = None,
    recent: _Recent | None = None,
) -> SymbolView:
    """Build the view model of one symbol block.

    Args:
        record: a consistent copy of the block (`SnapshotReader.symbol`).
        seq: the block's sequence number read before the copy.
        now_ns: wall clock now, for the data age.
        previous: the last view of this symbol; its trades are reused if none arrived.
        recent: this block's rows as last formatted, to reuse those that did not change.

    Returns:
        The view, with every number already formatted.
    """
    recent = recent if recent is not None else _Recent()
    pd, qd = int(record["price_decimals"]), int(record["qty_decimals"])
    nb, na = int(record["n_bids"]), int(record["n_asks"])
    bid, ask = int(record["best_bid"]), int(record["best_ask"])
    count = int(record["trade_count"])
    if previous is not None and previous.trade_count == count and count:
        trades = previous.trades
    else:
        trades = recent.trades(record, count, pd, qd)
    bids = recent.levels(record["bid_px"], record["bid_qty"], nb, pd, qd)
    asks = recent.levels(record["ask_px"], record["ask_qty"], na, pd, qd)
    recent.built()
    levels = bids + asks
    both = bid >= 0 and ask >= 0 and nb and na
    recv = int(record["recv_ns"])
    age = (now_ns - recv) / 1e9 if recv else None
    return SymbolView(
        symbol=decode_text(record["symbol"]),
        seq=seq,
        synced=bool(record["synced"]),
        feed_state=FeedState(int(record["feed_state"])),
        last_update_id=int(record["last_update_id"]),
        age_s=age,
        age=age_text(age),
        bids=bids,
        asks=asks,
        best_bid=format_units(bid, pd) if nb else "-",
        best_ask=format_units(ask, pd) if na else "-",
        spread=format_units(ask - bid, pd) if both else "-",
        mid=_mid(bid, ask, pd) if both else "-",
        price_width=_widest([level.price for level in levels], 5),
        qty_width=_widest([level.qty for level in levels], 4),
        cum_width=_widest([level.cumulative for level in levels], 3),
        trade_count=count,
        trades=trades,
        trade_price_width=_widest([trade.price for trade in trades], 5),
        trade_qty_width=_widest([trade.qty for trade in trades], 3),
        gaps=int(record["gaps"]),
        resyncs=int(record["resyncs"]),
        msgs_total=int(record["msgs_total"]),
        price_decimals=pd,
        qty_decimals=qd,
        tick_units=max(1, int(record["tick_units"])),
        bid_units=bid if nb else -1,
        ask_units=ask if na else -1,
        position_units=int(record["position"]),
        position=format_units(int(record["position"]), qd),
        entry=format_units(int(record["entry_price"]), pd) if record["position"] else "-",
        mark=f"{float(record['mark_price']):.{pd}f}" if record["mark_price"] > 0 else "-",
        realized=float(record["realized"]),
        unrealized=float(record["unrealized"]),
        fees=float(record["fees"]),
        funding=float(record["funding"]),
        open_orders=int(record["open_orders"]),
    )


def order_rows(block: np.void, symbols: tuple[SymbolView, ...]) -> tuple[OrderRow, ...]:
    """The open orders of an orders block (`SnapshotReader.orders`), formatted."""
    decimals = {s.symbol: (s.price_decimals, s.qty_decimals) for s in symbols}
    rows = []
    for row in block["rows"][: int(block["count"])]:
        symbol = decode_text(row["symbol"])
        pd, qd = decimals.get(symbol, (0, 0))
        order_type = OrderType(int(row["order_type"]))
        limit = order_type is OrderType.LIMIT
        rows.append(
            OrderRow(
                client_id=decode_text(row["client_id"]),
                symbol=symbol,
                side=Side(int(row["side"])),
                order_type=order_type,
                price=format_units(int(row["price"]), pd) if limit else "",
                price_units=int(row["price"]) if limit else 0,
                qty=format_units(int(row["qty"]), qd),
                filled=format_units(int(row["filled"]), qd),
                status=OrderStatus(int(row["status"])),
                post_only=int(row["tif"]) == TimeInForce.GTX,
                reduce_only=bool(row["reduce_only"]),
                strategy=decode_text(row["strategy"]),
                created_ns=int(row["created_ns"]),
            )
        )
    return tuple(rows)


def _aged(view: SymbolView, now_ns: int, recv_ns: int) -> SymbolView:
    age = (now_ns - recv_ns) / 1e9 if recv_ns else None
    return dataclasses.replace(view, age_s=age, age=age_text(age))


class EngineLink:
    """Reads one engine's snapshot region. Owned by the TUI app; not thread-safe."""

    def __init__(
        self,
        reader: SnapshotReader,
        engine_pid: int,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.reader = reader
        self.engine_pid = engine_pid
        self.clock_ns = clock_ns
        # Per block: the view built from it and its frame's receive time.
        self._cache: list[tuple[SymbolView, int] | None] = [None] * MAX_SYMBOLS
        self._recent = [_Recent() for _ in range(MAX_SYMBOLS)]
        self._last: EngineView | None = None
        # The orders block as last formatted, keyed by its sequence number and the decimals
        # it was formatted with (symbols may publish their grid after the first orders).
        self._orders: tuple[object, tuple[OrderRow, ...], int] = (None, (), 0)
        self._strategies: tuple[int, tuple[StrategyFigures, ...]] = (-1, ())

    @classmethod
    def open(cls, info: InstanceInfo) -> EngineLink:
        """Attach to the engine an instance file describes.

        Raises:
            RegionError: if its segment is gone or not an hftui region.
        """
        return cls(SnapshotReader(info.shm), info.pid)

    def _symbol(self, index: int, now_ns: int) -> SymbolView:
        seq = self.reader.symbol_seq(index)
        cached = self._cache[index]
        if cached is not None and cached[0].seq == seq and not seq & 1:
            return _aged(cached[0], now_ns, cached[1])
        # Keyed by the sequence number read *before* the copy: if the engine rewrote the
        # block in between, the copy is newer and the next poll simply reads it again.
        record = self.reader.symbol(index)
        view = symbol_view(record, seq, now_ns, cached[0] if cached else None, self._recent[index])
        self._cache[index] = (view, int(record["recv_ns"]))
        return view

    def poll(self) -> EngineView:
        """The engine's state now.

        Returns:
            A fresh view; the previous one if the engine stayed mid-write for too long;
            a `WAITING` view if nothing was ever read.
        """
        try:
            header = self.reader.header()
            now = self.clock_ns()
            n_symbols = min(int(header["n_symbols"]), MAX_SYMBOLS)
            symbols = tuple(self._symbol(i, now) for i in range(n_symbols))
            orders, orders_total = self._open_orders(symbols)
            strategies = self._strategy_rows()
        except (TornReadError, RegionError):
            return self._last if self._last is not None else self._waiting()
        heartbeat_ns = int(header["heartbeat_ns"])
        if heartbeat_ns == 0:
            return self._waiting()
        heartbeat_age = (now - heartbeat_ns) / 1e9
        quiet = heartbeat_age >= HEARTBEAT_DEAD_S
        if header["stopping"]:
            status = EngineStatus.STOPPED if quiet else EngineStatus.STOPPING
        elif quiet:
            status = EngineStatus.NOT_RESPONDING
        elif not header["stream_url"]:
            status = EngineStatus.STARTING
        else:
            status = EngineStatus.UP
        started = int(header["started_ns"])
        killed = bool(header["killed"])
        self._last = EngineView(
            alive=status in (EngineStatus.UP, EngineStatus.STARTING),
            status=status,
            pid=int(header["engine_pid"]) or self.engine_pid,
            venue=decode_text(header["venue"]),
            venue_url=decode_text(header["venue_url"]),
            mode=Mode(int(header["mode"])),
            killed=killed,
            killed_at=_killed_at(int(header["killed_ns"])) if killed else "",
            kill_reason=decode_text(header["kill_reason"]) if killed else "",
            kill_flatten=killed and bool(header["kill_flatten"]),
            has_keys=bool(header["has_keys"]),
            open_orders=int(header["open_orders"]),
            refusals=int(header["refusals"]),
            ws_connected=bool(header["ws_connected"]),
            msgs_per_s=float(header["msgs_per_s"]),
            bad_frames=int(header["bad_frames"]),
            reconnects=int(header["reconnects"]),
            heartbeat_age_s=heartbeat_age,
            uptime=age_text((now - started) / 1e9) if started else "",
            symbols=symbols,
            controller_pid=int(header["tui_pid"]),
            dead_man_cancel=bool(header["dead_man_cancel"]),
            dead_man_after_s=int(header["dead_man_after_ms"]) / 1000,
            realized=float(header["realized"]),
            unrealized=float(header["unrealized"]),
            fees=float(header["fees"]),
            funding=float(header["funding"]),
            daily_pnl=float(header["daily_pnl"]),
            wallet=float(header["wallet_balance"]) if header["balance_ms"] else None,
            reconciled_age_s=(now - int(header["reconciled_ns"])) / 1e9
            if header["reconciled_ns"]
            else None,
            reconcile_mismatches=int(header["reconcile_mismatches"]),
            orders=orders,
            orders_total=orders_total,
            strategies=strategies,
            now_ns=now,
            t2o_p50_ns=int(header["t2o_p50_ns"]),
            t2o_p99_ns=int(header["t2o_p99_ns"]),
        )
        return self._last

    def _open_orders(self, symbols: tuple[SymbolView, ...]) -> tuple[tuple[OrderRow, ...], int]:
        seq = self.reader.orders_seq()
        key = (seq, tuple((s.symbol, s.price_decimals, s.qty_decimals) for s in symbols))
        cached, rows, total = self._orders
        if key == cached and not seq & 1:
            return rows, total
        block = self.reader.orders()
        rows, total = order_rows(block, symbols), int(block["total"])
        self._orders = (key, rows, total)
        return rows, total

    def _strategy_rows(self) -> tuple[StrategyFigures, ...]:
        seq = self.reader.strategies_seq()
        if seq == self._strategies[0] and not seq & 1:
            return self._strategies[1]
        rows = strategy_rows(self.reader.strategies())
        self._strategies = (seq, rows)
        return rows

    def _waiting(self) -> EngineView:
        return EngineView(
            alive=False,
            status=EngineStatus.WAITING,
            pid=self.engine_pid,
            venue="",
            venue_url="",
            mode=Mode.OBSERVE,
            killed=False,
            killed_at="",
            kill_reason="",
            kill_flatten=False,
            has_keys=False,
            open_orders=0,
            refusals=0,
            ws_connected=False,
            msgs_per_s=0.0,
            bad_frames=0,
            reconnects=0,
            heartbeat_age_s=None,
            uptime="",
            symbols=(),
        )

    def close(self) -> None:
        self.reader.close()


# ---- commands and their answers -----------------------------------------------------------

# The same words as Textual's notification severities, so a notice can be shown as a toast.
Severity: TypeAlias = Literal["information", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell the trader: a command sent, its answer or refusal, an alert, a mode
    change, or events missed."""

    time: str  # HH:MM:SS UTC when the TUI learned it
    severity: Severity
    title: str  # what it is about: "kill", "mode live", "alert", ...
    text: str
    pending: bool = False  # a command on its way: its answer will follow
    # False when an answer about the same thing is on its way and will say it again (the
    # mode change a kill causes, before the kill's own answer): the notice line shows it,
    # a notification would only repeat it.
    toast: bool = True
    # The request a "sent" notice or an answer is about (0: none), so a dialog that sent it
    # can show its own answer.
    request_id: int = 0

    @property
    def line(self) -> str:
        """The notice as one line of text (the title once when the text only repeats it,
        as the answer to a mode switch does)."""
        if self.text == self.title:
            return f"{self.time} {self.title}"
        return f"{self.time} {self.title}: {self.text}"


def _alert_severity(level: int) -> Severity:
    if level >= logging.ERROR:
        return "error"
    return "warning" if level >= logging.WARNING else "information"


class CommandLink:
    """The trader's side of the command and event rings. Owned by the TUI app.

    Only answers to requests sent through this link are reported: a CLI on the same engine
    gets its own. Alerts and mode changes are reported whoever caused them.

    Args:
        control: the engine's rings; the caller closes it. None (an engine without rings,
            or rings that could not be opened): nothing can be sent, and `send` says so.
        clock_ns: wall clock, for the time a notice shows.
        monotonic: seconds, for the answer timeout.
        answer_timeout_s: after this long without an answer a request is reported as
            unanswered and forgotten.
    """

    def __init__(
        self,
        control: EngineControl | None,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
    ) -> None:
        self.control = control
        self.clock_ns = clock_ns
        self.monotonic = monotonic
        self.answer_timeout_s = answer_timeout_s
        # Request id -> (title, monotonic time sent) of every request not answered yet.
        self.pending: dict[int, tuple[str, float]] = {}

    def notice(
        self,
        severity: Severity,
        title: str,
        text: str,
        *,
        pending: bool = False,
        toast: bool = True,
        request_id: int = 0,
    ) -> Notice:
        """A notice stamped with the time now."""
        return Notice(
            _utc_seconds(self.clock_ns()), severity, title, text, pending, toast, request_id
        )

    def send(self, command: Command, title: str) -> Notice:
        """Queue `command` for the engine; never blocks for long.

        Args:
            command: what to do.
            title: what the trader asked for, in the notices about it (e.g. "kill").

        Returns:
            A pending notice when it went out, an error notice saying why it did not.
        """
        if self.control is None:
            return self.unconnected(title)
        try:
            request_id = self.control.send(command)
        except RingFullError:
            return self.notice("error", title, "not sent: the engine is not reading commands")
        except (RingError, ValueError, OSError) as exc:
            return self.notice("error", title, f"not sent: {exc}")
        self.pending[request_id] = (title, self.monotonic())
        return self.notice(
            "information",
            title,
            "sent; waiting for the engine…",
            pending=True,
            request_id=request_id,
        )

    def heartbeat(self, claim: bool) -> None:
        """Tell the engine this TUI is alive (its dead-man's switch); `claim` takes control
        if no TUI has it. Not answered, and no nudge: the engine reads it at its next poll."""
        if self.control is None:
            return
        events = self.control.events
        with contextlib.suppress(RingError, OSError):
            self.control.sender.send(Heartbeat(claim, events.cursor, events.overruns))

    def unconnected(self, title: str) -> Notice:
        """The notice for a command that cannot be sent: there is no command ring."""
        return self.notice(
            "error",
            title,
            "not sent: no command channel to this engine, the TUI only watches "
            "(`hftui kill` works from a shell)",
        )

    @property
    def connected(self) -> bool:
        """Commands can be sent."""
        return self.control is not None

    def poll(self) -> list[Notice]:
        """What happened since the last poll, oldest first. Never blocks."""
        if self.control is None:
            return []
        events, overrun = self.control.poll()
        notices = []
        for event in events:
            notice = self._notice_of(event)
            if notice is not None:
                notices.append(notice)
        if overrun:
            # Last, as the newest news: it stays on the notice line and is never among the
            # notices a burst leaves out.
            notices.append(
                self.notice(
                    "warning",
                    "events",
                    "some engine events were missed (reader overrun); the dashboard is "
                    "current, but answers may be lost",
                )
            )
        now = self.monotonic()
        for request_id, (title, sent) in list(self.pending.items()):
            if now - sent >= self.answer_timeout_s:
                del self.pending[request_id]
                notices.append(
                    self.notice(
                        "warning",
                        title,
                        f"no answer after {self.answer_timeout_s:.0f}s",
                        request_id=request_id,
                    )
                )
        return notices

    def _notice_of(self, event: Event) -> Notice | None:
        match event:
            case CommandAnswered():
                sent = self.pending.pop(event.request_id, None)
                if sent is None:
                    return None  # another client's request
                rid = event.request_id
                if event.ok:
                    return self.notice("information", sent[0], event.text, request_id=rid)
                text = f"refused, {event.reason.name}: {event.text or event.reason.text}"
                return self.notice("error", sent[0], text, request_id=rid)
            case ModeChanged():
                state = f"{event.mode.label}, killed" if event.killed else event.mode.label
                severity: Severity = "error" if event.killed else "warning"
                if not event.killed and event.mode is Mode.OBSERVE:
                    severity = "information"
                # Caused by a request of this TUI (most likely): its answer will toast.
                quiet = bool(self.pending)
                return self.notice(severity, "mode", f"{event.text} · now {state}", toast=not quiet)
            case AlertRaised(level=level) if level < logging.INFO:
                # A report ("would send" in observe, several a second from a quoting
                # strategy): the notice line only, and not an alert for the alerts panel.
                return self.notice("information", INTENT_TITLE, event.text, toast=False)
            case AlertRaised():
                # Information goes to the notice line (and the alerts panel) only; a toast
                # each would bury the screen.
                toast = event.level >= logging.WARNING
                return self.notice(_alert_severity(event.level), "alert", event.text, toast=toast)
            case OrderChanged(status=OrderStatus.REJECTED):
                # Every refusal, whoever asked (a shell, later a strategy): the trader sees it.
                # One of this TUI's own requests is toasted by its answer instead.
                text = f"refused, {event.reason.name}: {event.text or event.reason.text}"
                where = f"order {event.client_id or event.symbol}"
                return self.notice("error", where, text, toast=not self.pending)
            case OrderChanged(status=OrderStatus.EXPIRED):
                # The venue ended it (self-trade prevention, a post-only that would take, an
                # IOC's rest): it leaves the orders panel, so the notice line says why. A
                # toast only for the trader's own orders: a quoting strategy's expire often.
                left = f"{event.filled} of {event.qty} filled" if event.qty else ""
                text = "; ".join(t for t in (f"expired: {event.text or 'by the venue'}", left) if t)
                manual = event.client_id.startswith(MANUAL_ORDER_PREFIX + "-")
                return self.notice("warning", f"order {event.client_id}", text, toast=manual)
        # Order and fill events belong to an orders view; the dashboard has none yet.
        return None
