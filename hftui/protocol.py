"""The engine <-> TUI contract: enums, snapshot record layouts and their formatting.

Both processes import this module and `hftui.ipc`, never each other. Records are numpy
structured dtypes with a fixed layout so that a reader of another process (or another build
with the same `LAYOUT_VERSION`) can map them straight out of shared memory.

Prices and quantities cross the boundary as integers in *decimal units*: a price of
"64000.10" for a symbol with two price decimals is 6400010. That keeps them exact (no float
drift) and makes formatting a string operation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal, TypeVar, dataclass_transform

import numpy as np

__all__ = [
    "BOOK_DEPTH",
    "COMMAND_DTYPE",
    "COMMAND_TAGS",
    "EVENT_DTYPE",
    "FLAG_FLATTEN",
    "FLAG_POST_ONLY",
    "FLAG_REDUCE_ONLY",
    "HEADER_DTYPE",
    "LAYOUT_VERSION",
    "MAGIC",
    "MANUAL_ORDER_PREFIX",
    "MAX_SYMBOLS",
    "ORDERS_DTYPE",
    "ORDER_DTYPE",
    "ORDER_SLOTS",
    "RECENT_SLOTS",
    "STRATEGIES_DTYPE",
    "STRATEGY_DTYPE",
    "STRATEGY_SLOTS",
    "STRATEGY_STATES",
    "SYMBOL_DTYPE",
    "TRADE_SLOTS",
    "VENUES",
    "AlertRaised",
    "CancelAll",
    "CancelOrder",
    "Command",
    "CommandAnswered",
    "Event",
    "EventKind",
    "FeedState",
    "Flatten",
    "Heartbeat",
    "Kill",
    "Mode",
    "ModeChanged",
    "OrderChanged",
    "OrderFilled",
    "OrderStatus",
    "OrderType",
    "PauseStrategy",
    "PlaceOrder",
    "Rearm",
    "Reason",
    "ReloadRisk",
    "ReloadStrategy",
    "ReplaceOrder",
    "ResumeStrategy",
    "SetMode",
    "SetStrategyParams",
    "Side",
    "StrategyFigures",
    "TakeControl",
    "TimeInForce",
    "WatchSymbol",
    "decode_text",
    "format_units",
]

LAYOUT_VERSION: Final = 10
MAGIC: Final = 0x504E5349_55544648  # b"HFTUISNP" little-endian: marks a valid region
MAX_SYMBOLS: Final = 8
BOOK_DEPTH: Final = 20
TRADE_SLOTS: Final = 64
ORDER_SLOTS: Final = 64  # open orders shown; more are counted in `open_orders`
RECENT_SLOTS: Final = 16  # finished orders kept on show, with how they ended
# A manual order's client id starts "m-" (a strategy's: its own name's first 8 characters).
MANUAL_ORDER_PREFIX: Final = "m"
STRATEGY_SLOTS: Final = 8  # strategies shown; more are counted in `total`
STRATEGY_STATES: Final = ("running", "paused", "failed")  # STRATEGY_DTYPE.state

VENUES: Final = ("local", "binance-testnet", "binance")


class Mode(enum.IntEnum):
    """Trading mode, ordered from safest to live: going down is always allowed."""

    OBSERVE = 0
    PAPER = 1
    LIVE = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class FeedState(enum.IntEnum):
    """State of one symbol's market data as the engine sees it."""

    DOWN = 0  # no connection
    CONNECTING = 1
    SYNCING = 2  # connected, buffering diffs until a snapshot lines up
    LIVE = 3  # synced and receiving
    STALE = 4  # synced, but nothing arrived for longer than the stale threshold

    @property
    def label(self) -> str:
        return self.name.lower()


class Side(enum.IntEnum):
    BUY = 1
    SELL = -1  # the sign of a position change

    @property
    def wire(self) -> str:
        return self.name


class OrderType(enum.IntEnum):
    LIMIT = 0
    MARKET = 1


class TimeInForce(enum.IntEnum):
    GTC = 0
    IOC = 1
    FOK = 2
    GTX = 3  # post-only: expires instead of taking


class OrderStatus(enum.IntEnum):
    """An order's life. The numbers order the states: a later state never goes back to an
    earlier one, and the last four are terminal."""

    PENDING_NEW = 0  # sent (or about to be); the venue has not answered
    NEW = 1  # accepted and resting (or about to match)
    PARTIALLY_FILLED = 2
    PENDING_CANCEL = 3  # cancel sent; the venue has not answered
    FILLED = 4
    CANCELED = 5
    EXPIRED = 6
    REJECTED = 7

    @property
    def terminal(self) -> bool:
        return self >= OrderStatus.FILLED

    @property
    def label(self) -> str:
        return self.name.lower()


class Reason(enum.IntEnum):
    """Why a command or order was refused. The journal, the TUI and strategies see the code;
    `text` says it for a human."""

    OK = 0
    # pre-trade risk
    UNKNOWN_SYMBOL = 1
    NO_MARKET = 2  # no synced book to check the price against
    BAD_QTY = 3  # zero, negative, or off the lot step
    BAD_PRICE = 4  # missing for a limit, off the tick, or outside the venue's price filter
    MIN_QTY = 5
    MAX_QTY = 6
    MIN_NOTIONAL = 7
    MAX_NOTIONAL = 8
    MAX_POSITION = 9
    MAX_OPEN_ORDERS = 10
    PRICE_BAND = 11  # too far from mid: a fat finger
    ORDER_RATE = 12
    REDUCE_ONLY = 13  # would not reduce the position
    STRATEGY_BUDGET = 14
    DAILY_LOSS = 15
    KILLED = 16  # the kill switch is latched
    HALTED = 17  # trading is halted (stopping, or a strategy paused)
    # modes and commands
    MODE_STEP = 20  # modes go up one step at a time
    NO_KEYS = 21
    CONFIRMATION = 22  # live needs the typed word LIVE
    NOT_FOUND = 23
    BAD_COMMAND = 24
    BUSY = 25
    READ_ONLY = 26  # from a TUI that watches while another one controls the engine
    # the venue
    VENUE_REJECT = 30
    RATE_LIMITED = 31
    VENUE_DOWN = 32
    TIMEOUT = 33
    DUPLICATE = 34
    INSUFFICIENT_MARGIN = 35
    POST_ONLY = 36  # would have taken liquidity

    @property
    def text(self) -> str:
        return _REASON_TEXT.get(self, self.name.lower().replace("_", " "))


_REASON_TEXT: Final[dict[Reason, str]] = {
    Reason.OK: "ok",
    Reason.UNKNOWN_SYMBOL: "symbol not traded by this engine",
    Reason.NO_MARKET: "no live book to check the price against",
    Reason.BAD_QTY: "quantity must be positive and on the lot step",
    Reason.BAD_PRICE: "price missing, off the tick or outside the venue's limits",
    Reason.MIN_QTY: "quantity below the venue's minimum",
    Reason.MAX_QTY: "quantity above the limit",
    Reason.MIN_NOTIONAL: "notional below the venue's minimum",
    Reason.MAX_NOTIONAL: "notional above the limit",
    Reason.MAX_POSITION: "would exceed the maximum position",
    Reason.MAX_OPEN_ORDERS: "too many open orders",
    Reason.PRICE_BAND: "price too far from mid (fat-finger band)",
    Reason.ORDER_RATE: "order rate limit reached",
    Reason.REDUCE_ONLY: "reduce-only order would not reduce the position",
    Reason.STRATEGY_BUDGET: "strategy budget exceeded",
    Reason.DAILY_LOSS: "daily loss limit reached",
    Reason.KILLED: "kill switch is latched; re-arm first",
    Reason.HALTED: "trading halted",
    Reason.MODE_STEP: "modes go up one step at a time",
    Reason.NO_KEYS: "no API keys in the keyring for this venue",
    Reason.CONFIRMATION: "live needs the typed confirmation LIVE",
    Reason.NOT_FOUND: "no such order",
    Reason.BAD_COMMAND: "malformed command",
    Reason.BUSY: "engine busy; try again",
    Reason.READ_ONLY: "read-only: another TUI controls this engine",
    Reason.VENUE_REJECT: "rejected by the venue",
    Reason.RATE_LIMITED: "venue rate limit; backing off",
    Reason.VENUE_DOWN: "venue unreachable",
    Reason.TIMEOUT: "venue did not answer in time",
    Reason.DUPLICATE: "duplicate client order id",
    Reason.INSUFFICIENT_MARGIN: "insufficient margin",
    Reason.POST_ONLY: "post-only order would have taken liquidity",
}


# Engine-wide record: identity, mode, kill latch and feed health.
HEADER_DTYPE: Final = np.dtype(
    [
        ("magic", "<u8"),
        ("layout_version", "<u4"),
        ("n_symbols", "<u4"),
        ("engine_pid", "<i8"),
        ("started_ns", "<i8"),  # wall clock (time.time_ns) when the engine started
        ("heartbeat_ns", "<i8"),  # wall clock of the last publish: readers judge liveness by it
        ("mode", "u1"),
        ("killed", "u1"),
        ("stopping", "u1"),
        ("ws_connected", "u1"),
        ("reconnects", "<u4"),
        ("msgs_total", "<u8"),
        ("bytes_total", "<u8"),
        ("msgs_per_s", "<f8"),
        ("bad_frames", "<u8"),
        ("venue", "S32"),
        ("venue_url", "S128"),
        ("stream_url", "S128"),
        # trading
        ("has_keys", "u1"),  # live is possible: keys (or the local demo account) are there
        ("kill_flatten", "u1"),
        ("killed_ns", "<i8"),  # wall clock of the kill; 0 when armed
        ("open_orders", "<u4"),
        ("orders_sent", "<u8"),
        ("refusals", "<u8"),
        ("would_send", "<u8"),  # observe: intents that passed risk and were not sent
        # USDT, all symbols, this mode (observe: the live account); realized, fees and
        # funding of today (UTC), unrealized at the mark now
        ("realized", "<f8"),
        ("unrealized", "<f8"),
        ("fees", "<f8"),
        ("daily_pnl", "<f8"),  # realized + unrealized - fees + funding
        ("funding", "<f8"),  # + received, - paid
        # The live USDT wallet as the venue states it (stream, REST, reconciliation), known
        # once balance_ms (the venue's time of it) is not 0. Available: from the last REST
        # read, -1 before one.
        ("wallet_balance", "<f8"),
        ("available_balance", "<f8"),
        ("balance_ms", "<i8"),
        ("weight_used", "<f8"),  # fraction of the venue's request-weight budget in use
        ("kill_reason", "S64"),
        # The last kill, in ns from the sender's key press (COMMAND_DTYPE.sent_ns): when every
        # cancel was on the wire, and when open-order queries confirmed nothing was left.
        ("kill_sent_ns", "<i8"),
        ("kill_zero_open_ns", "<i8"),  # 0 until verified
        ("kill_left_open", "<i4"),  # venue orders still open after verification; -1 unknown
        # The dead-man's switch: the TUI in control, when its last heartbeat arrived (wall
        # clock; 0 never) and what the engine does when the heartbeats stop.
        ("tui_pid", "<i8"),  # 0: no TUI controls the engine
        ("tui_heartbeat_ns", "<i8"),
        ("dead_man_cancel", "u1"),  # 1: cancel all and drop to observe; 0: keep trading
        ("dead_man_after_ms", "<u4"),
        # Reconciliation with the venue: when the last check completed (wall clock; 0 never),
        # checks run and mismatches found since the engine started.
        ("reconciled_ns", "<i8"),
        ("reconcile_runs", "<u4"),
        ("reconcile_mismatches", "<u4"),
        # Component health, for `hftui status` (see hftui/status_components.py). Wall clocks
        # in ns, 0 never.
        ("user_stream_up", "u1"),  # the user-data stream is connected (live keys only)
        ("rest_breaker", "u1"),  # the venue's REST snapshot circuit: 0 closed, 1 half-open, 2 open
        ("journal_failing", "u1"),  # the journal's last commit failed
        ("metrics_port", "<u2"),  # the exporter's port while it serves; 0 off or stopped
        ("journal_pending", "<u4"),  # records queued for the journal's writer
        ("user_event_ns", "<i8"),  # the user-data stream's last message
        ("venue_ban_until_ns", "<i8"),  # a 429/418 block lifts then; 0 not blocked
        ("venue_error_ns", "<i8"),  # the venue's last failure (down, timeout, rate limit)
        ("venue_error", "S96"),
        ("journal_commit_ns", "<i8"),  # the journal's last successful commit
        # Tick-to-order of the last strategy orders (frame received to order handed over):
        # exact p50/p99 of up to RECENT_SAMPLES (hftui.engine.metrics) samples.
        ("t2o_p50_ns", "<i8"),
        ("t2o_p99_ns", "<i8"),
        ("t2o_samples", "<u4"),
    ],
    align=True,
)

# One symbol's book top, recent trades and feed counters.
SYMBOL_DTYPE: Final = np.dtype(
    [
        ("symbol", "S16"),
        ("synced", "u1"),
        ("feed_state", "u1"),
        ("price_decimals", "u1"),
        ("qty_decimals", "u1"),
        ("tick_units", "<i8"),  # tick size in price units (for formatting and ladders)
        ("last_update_id", "<i8"),
        ("event_time_ms", "<i8"),  # venue event time of the last applied diff
        ("recv_ns", "<i8"),  # wall clock when the last frame for this symbol arrived
        ("best_bid", "<i8"),  # price units; -1 when the side is empty
        ("best_ask", "<i8"),
        ("n_bids", "<u4"),
        ("n_asks", "<u4"),
        ("bid_px", "<i8", (BOOK_DEPTH,)),
        ("bid_qty", "<i8", (BOOK_DEPTH,)),
        ("ask_px", "<i8", (BOOK_DEPTH,)),
        ("ask_qty", "<i8", (BOOK_DEPTH,)),
        ("msgs_total", "<u8"),
        ("gaps", "<u4"),
        ("resyncs", "<u4"),
        ("trade_count", "<u8"),  # trades ever published; slot of trade k is k % TRADE_SLOTS
        ("trade_px", "<i8", (TRADE_SLOTS,)),
        ("trade_qty", "<i8", (TRADE_SLOTS,)),
        ("trade_time_ms", "<i8", (TRADE_SLOTS,)),
        ("trade_buyer_maker", "u1", (TRADE_SLOTS,)),
        # the position in the current mode (paper or live; observe shows the live account)
        ("position", "<i8"),  # qty units, signed
        ("entry_price", "<i8"),  # price units; 0 when flat
        ("realized", "<f8"),  # USDT, since the engine started
        ("unrealized", "<f8"),  # at the mark price (the book's mid before the first mark)
        ("fees", "<f8"),
        ("funding", "<f8"),  # + received, - paid
        ("open_orders", "<u4"),
        # markPrice stream: the venue's mark (unrealized P&L is valued at it) and funding
        ("mark_price", "<f8"),  # USDT; 0 until the first markPriceUpdate
        ("funding_rate", "<f8"),  # the rate due at next_funding_ms, as a fraction
        ("next_funding_ms", "<i8"),
        ("top_mismatches", "<u4"),  # depth best vs bookTicker disagreements that forced a resync
        # Level-by-level checks against a REST snapshot (see book_verify): made, and failed
        # (each failure healed by a resync).
        ("verify_runs", "<u4"),
        ("verify_mismatches", "<u4"),
    ],
    align=True,
)


# One open order, in the orders block (units as in the symbol block of its symbol).
ORDER_DTYPE: Final = np.dtype(
    [
        ("client_id", "S40"),
        ("symbol", "S16"),
        ("strategy", "S16"),
        ("side", "i1"),
        ("order_type", "u1"),
        ("tif", "u1"),
        ("status", "u1"),
        ("reduce_only", "u1"),
        ("mode", "u1"),
        ("price", "<i8"),  # price units; 0 for MARKET
        ("qty", "<i8"),  # qty units
        ("filled", "<i8"),
        ("created_ns", "<i8"),
        ("reason", "<u2"),  # Reason: why a finished order ended (REJECTED); OK otherwise
        ("text", "S96"),  # the venue's or the engine's words about its end; cut to fit
    ],
    align=True,
)
ORDERS_DTYPE: Final = np.dtype(
    [
        ("count", "<u4"),
        ("total", "<u4"),
        ("rows", ORDER_DTYPE, (ORDER_SLOTS,)),
        ("n_recent", "<u4"),
        ("recent", ORDER_DTYPE, (RECENT_SLOTS,)),  # the last finished orders, newest first
    ],
    align=True,
)


# One strategy of the strategy host, in the strategies block.
STRATEGY_DTYPE: Final = np.dtype(
    [
        ("name", "S32"),
        ("state", "u1"),  # index into STRATEGY_STATES
        ("by_trader", "u1"),  # 1: paused by the trader's command, not by the host (a fault)
        ("why", "S120"),  # why it is paused or not loaded; "" while running
        ("last_alert", "S120"),  # the host's last alert about it
        ("intents", "<u8"),  # intents that reached risk
        ("held", "<u8"),  # intents held back by [strategies] max_mode
        ("open_orders", "<u4"),
        ("fills", "<u8"),
        ("errors", "<u4"),
        ("overruns", "<u4"),
        ("reloads", "<u4"),
        ("realized", "<f8"),  # USDT from its own fills in the current mode
        ("unrealized", "<f8"),
        ("fees", "<f8"),
        ("p50_ns", "<i8"),  # on_book decision cost (histogram bucket upper bounds)
        ("p99_ns", "<i8"),
        ("max_ns", "<i8"),  # slowest hook call of any kind
        ("calls", "<u8"),  # on_book calls measured
        ("params", "S256"),  # "k=v k=v", the parameters in force
    ],
    align=True,
)
STRATEGIES_DTYPE: Final = np.dtype(
    [
        ("count", "<u4"),
        ("total", "<u4"),
        ("rows", STRATEGY_DTYPE, (STRATEGY_SLOTS,)),
    ],
    align=True,
)


@dataclass(frozen=True, slots=True)
class StrategyFigures:
    """One strategy as a STRATEGY_DTYPE row carries it: the engine's host fills it in, the
    TUI reads it back (see the dtype for each field)."""

    name: str
    state: str  # one of STRATEGY_STATES ("?" for a value this build does not know)
    why: str
    last_alert: str
    intents: int
    held: int
    open_orders: int
    fills: int
    errors: int
    overruns: int
    reloads: int
    realized: float
    unrealized: float
    fees: float
    p50_ns: int
    p99_ns: int
    max_ns: int
    calls: int
    params: str
    by_trader: bool = False  # paused by the trader, not by the host after a fault


def format_units(units: int, decimals: int) -> str:
    """Format an integer count of 10**-decimals as an exact decimal string.

    Args:
        units: the value in units of 10**-decimals (may be negative).
        decimals: number of digits after the point.

    Returns:
        The decimal string, e.g. ``format_units(6400010, 2) == "64000.10"``.
    """
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def decode_text(raw: bytes) -> str:
    """Decode a fixed-width, NUL-padded text field read from a record."""
    return raw.rstrip(b"\0").decode("utf-8", errors="replace")


# ---- commands (TUI or CLI -> engine) ------------------------------------------------------
#
# Imperative, immutable, one dataclass per kind. Prices and quantities travel as the decimal
# text the trader typed: only the engine knows each symbol's grid, and it refuses text that is
# off it rather than rounding. `ipc` packs them into COMMAND_DTYPE records.


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    symbol: str
    side: Side
    qty: str
    price: str = ""  # empty for MARKET
    order_type: OrderType = OrderType.LIMIT
    post_only: bool = False
    reduce_only: bool = False
    tag: Literal["place"] = "place"


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_id: str
    tag: Literal["cancel"] = "cancel"


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    """Cancel an open limit order and, once the venue confirms, place its replacement: the
    same symbol, side and flags at a new price and/or total quantity. What the old order
    filled meanwhile counts towards `qty`, so a fill racing the replace never doubles up."""

    client_id: str
    qty: str = ""  # new total quantity; empty: unchanged
    price: str = ""  # empty: unchanged
    tag: Literal["replace"] = "replace"


@dataclass(frozen=True, slots=True)
class CancelAll:
    symbol: str = ""  # empty: every symbol
    tag: Literal["cancel_all"] = "cancel_all"


@dataclass(frozen=True, slots=True)
class Flatten:
    symbol: str
    tag: Literal["flatten"] = "flatten"


@dataclass(frozen=True, slots=True)
class Kill:
    flatten: bool = False
    tag: Literal["kill"] = "kill"


@dataclass(frozen=True, slots=True)
class Rearm:
    tag: Literal["rearm"] = "rearm"


@dataclass(frozen=True, slots=True)
class SetMode:
    mode: Mode
    confirm: str = ""  # going up to live needs the word LIVE
    tag: Literal["mode"] = "mode"


@dataclass(frozen=True, slots=True)
class ReloadRisk:
    """Re-read the engine's config file and put its `[risk]` limits in force; a bad file is
    refused and the limits in force stay."""

    tag: Literal["reload_risk"] = "reload_risk"


@dataclass(frozen=True, slots=True)
class PauseStrategy:
    name: str
    tag: Literal["pause"] = "pause"


@dataclass(frozen=True, slots=True)
class ResumeStrategy:
    name: str
    tag: Literal["resume"] = "resume"


@dataclass(frozen=True, slots=True)
class ReloadStrategy:
    """Load the strategy's file afresh now, as a saved file would (state and orders carry)."""

    name: str
    tag: Literal["reload_strategy"] = "reload_strategy"


@dataclass(frozen=True, slots=True)
class SetStrategyParams:
    """Change a strategy's parameters while it runs: `params` is "key=value ..." text, each
    key one of its parameters; the rest keep their values. A bad key or value is refused."""

    name: str
    params: str
    tag: Literal["set_params"] = "set_params"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A TUI is alive (every 0.5 s; never answered). `claim`: take control if no TUI has it;
    a TUI that has seen another one in control watches and stops claiming. `read` and
    `overruns`: its event reader's cursor and the events it lost to falling behind (the
    engine cannot see a reader's progress otherwise; it exports the controller's)."""

    claim: bool = True
    read: int = 0
    overruns: int = 0
    tag: Literal["heartbeat"] = "heartbeat"


@dataclass(frozen=True, slots=True)
class TakeControl:
    """A watching TUI takes control, deliberately, once the controlling one has gone."""

    tag: Literal["take_control"] = "take_control"


@dataclass(frozen=True, slots=True)
class WatchSymbol:
    """Follow a symbol's market data from now on (`watch`), or stop (`watch=False`). Until
    the engine stops: `[market] symbols` in the config is what it starts with."""

    symbol: str
    watch: bool = True
    tag: Literal["watch"] = "watch"


Command = (
    PlaceOrder
    | CancelOrder
    | ReplaceOrder
    | ReloadRisk
    | CancelAll
    | Flatten
    | Kill
    | Rearm
    | SetMode
    | PauseStrategy
    | ResumeStrategy
    | ReloadStrategy
    | SetStrategyParams
    | Heartbeat
    | TakeControl
    | WatchSymbol
)

COMMAND_TAGS: Final[dict[str, int]] = {
    "place": 1,
    "cancel": 2,
    "cancel_all": 3,
    "flatten": 4,
    "kill": 5,
    "rearm": 6,
    "mode": 7,
    "pause": 8,
    "resume": 9,
    "replace": 10,
    "reload_risk": 11,
    "heartbeat": 12,
    "take_control": 13,
    "watch": 14,
    "reload_strategy": 15,
    "set_params": 16,
}

COMMAND_DTYPE: Final = np.dtype(
    [
        ("commit", "<u8"),  # written last: the ring position + 1 once the record is complete
        ("request_id", "<u8"),
        ("sender_pid", "<i8"),
        # CLOCK_MONOTONIC (system-wide on Linux) when the sender queued it: the key press, for
        # timings measured from the trader's keystroke rather than from the engine's arrival.
        ("sent_ns", "<i8"),
        ("kind", "u1"),
        ("side", "i1"),
        ("order_type", "u1"),
        ("flags", "u1"),  # FLAG_* bits
        ("mode", "u1"),
        ("symbol", "S16"),
        ("qty", "S32"),
        ("price", "S32"),
        ("text", "S64"),  # client id, strategy name or confirmation
        ("params", "S256"),  # SetStrategyParams: "key=value ..."
    ],
    align=True,
)
FLAG_POST_ONLY: Final = 1
FLAG_REDUCE_ONLY: Final = 2
FLAG_FLATTEN: Final = 4


# ---- events (engine -> TUI and CLI) -------------------------------------------------------


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def _event(cls: type[_T]) -> type[_T]:
    """An event class: frozen to the type checker, which rejects any assignment to a field, and
    a plain slotted dataclass (hashed by its fields, as a frozen one is) at run time. A TUI
    builds one per record it reads off the event ring, and a frozen dataclass is built
    through `object.__setattr__` per field: about 270 ns more per answer on the engine -> TUI
    path (benchmarks/bench_ring.py)."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


class EventKind(enum.IntEnum):
    ANSWER = 1  # the engine's answer to one command (request_id)
    ORDER = 2  # an order changed state
    FILL = 3
    ALERT = 4
    MODE = 5  # mode or kill latch changed


@_event
class CommandAnswered:
    request_id: int
    ok: bool
    reason: Reason
    text: str
    tag: Literal["answer"] = "answer"


@_event
class OrderChanged:
    client_id: str
    symbol: str
    side: Side
    status: OrderStatus
    qty: str
    price: str
    filled: str
    reason: Reason
    text: str
    tag: Literal["order"] = "order"


@_event
class OrderFilled:
    client_id: str
    symbol: str
    side: Side
    qty: str
    price: str
    text: str  # fee and maker/taker, for a human
    tag: Literal["fill"] = "fill"


@_event
class AlertRaised:
    level: int  # logging level
    text: str
    tag: Literal["alert"] = "alert"


@_event
class ModeChanged:
    mode: Mode
    killed: bool
    text: str
    tag: Literal["mode"] = "mode"


Event = CommandAnswered | OrderChanged | OrderFilled | AlertRaised | ModeChanged

EVENT_DTYPE: Final = np.dtype(
    [
        ("seq", "<u8"),  # seqlock of the slot: 2n+1 while event n is written, 2n+2 when done
        ("time_ns", "<i8"),
        ("request_id", "<u8"),
        ("kind", "u1"),
        ("ok", "u1"),
        ("side", "i1"),
        ("status", "u1"),
        ("mode", "u1"),
        ("reason", "<u2"),
        ("symbol", "S16"),
        ("client_id", "S40"),
        ("qty", "S24"),
        ("price", "S24"),
        ("filled", "S24"),
        ("text", "S120"),
    ],
    align=True,
)
