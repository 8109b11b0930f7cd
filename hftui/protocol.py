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
