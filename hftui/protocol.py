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
from typing import Final

import numpy as np

__all__ = [
    "BOOK_DEPTH",
    "HEADER_DTYPE",
    "LAYOUT_VERSION",
    "MAGIC",
    "MAX_SYMBOLS",
    "SYMBOL_DTYPE",
    "TRADE_SLOTS",
    "VENUES",
    "FeedState",
    "Mode",
    "OrderStatus",
    "OrderType",
    "Reason",
    "Side",
    "TimeInForce",
    "decode_text",
    "format_units",
]

LAYOUT_VERSION: Final = 1
MAGIC: Final = 0x504E5349_55544648  # b"HFTUISNP" little-endian: marks a valid region
MAX_SYMBOLS: Final = 8
BOOK_DEPTH: Final = 20
TRADE_SLOTS: Final = 64

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
    ],
    align=True,
)


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
