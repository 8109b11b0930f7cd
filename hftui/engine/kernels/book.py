"""numba kernels over an integer-tick book window.

The book is `qty`, an int64 array of shape (2, window): row BIDS and row ASKS hold the lots at
tick `base + index`. `state` (int64, STATE_SIZE) holds the base, the cached best index of each
side (bids: highest non-zero index or -1; asks: lowest or window), the grid and the level
counts of the last parse. `scratch` (int64, (SCRATCH_ROWS, capacity)) holds parsed levels and
the levels that fell outside the window ("spill") for the caller to keep elsewhere.
The kernels maintain the cached bests and scan only when a best level itself is removed.
Only numpy, numba and the sibling kernel modules here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftui.engine.kernels.decimal import level_sides_
from hftui.engine.kernels.parse import (
    META_ASKS,
    META_BIDS,
    META_DEPTH,
    META_EVENT_TIME,
    META_FINAL,
    META_FIRST,
    META_PREV,
    META_SIZE,
    META_SYMBOL,
    parse_depth_,
)

__all__ = [
    "ANY_SYMBOL",
    "APPLY_ALWAYS",
    "APPLY_NEVER",
    "ASKS",
    "ATTENTION",
    "BIDS",
    "CROSSED",
    "MISMATCH",
    "PARSED",
    "R_ASK_LOTS",
    "R_ASK_TICKS",
    "R_BID_LOTS",
    "R_BID_TICKS",
    "R_SPILL_ASK_LOTS",
    "R_SPILL_ASK_TICKS",
    "R_SPILL_BID_LOTS",
    "R_SPILL_BID_TICKS",
    "SCRATCH_ROWS",
    "SPILLED",
    "STATE_SIZE",
    "S_ASK",
    "S_BASE",
    "S_BID",
    "S_IRREGULAR",
    "S_LOT",
    "S_META",
    "S_NA",
    "S_NB",
    "S_PDEC",
    "S_QDEC",
    "S_SPILL_A",
    "S_SPILL_B",
    "S_TICK",
    "apply_",
    "depth_frame_",
    "ingest_",
    "ingest_frame_",
    "parse_",
    "scan_ask_",
    "scan_bid_",
    "sum_between_",
    "top_",
]

BIDS = 0
ASKS = 1

# state
S_BASE = 0  # tick of index 0
S_BID = 1  # best bid index, -1 if none in the window
S_ASK = 2  # best ask index, window if none in the window
S_PDEC = 3  # price decimals
S_QDEC = 4  # quantity decimals
S_TICK = 5  # tick size in price units (10**-price decimals)
S_LOT = 6  # step size in quantity units
S_NB = 7  # bid levels in scratch after a parse
S_NA = 8  # ask levels in scratch after a parse
S_SPILL_B = 9  # bid levels spilled by the last apply
S_SPILL_A = 10
S_IRREGULAR = 11  # 1 while the overflow holds a best level: every apply needs the caller
S_META = 16  # a raw frame's header (kernels.parse META_* offsets from here)
STATE_SIZE = S_META + META_SIZE

# scratch rows
R_BID_TICKS = 0
R_BID_LOTS = 1
R_ASK_TICKS = 2
R_ASK_LOTS = 3
R_SPILL_BID_TICKS = 4
R_SPILL_BID_LOTS = 5
R_SPILL_ASK_TICKS = 6
R_SPILL_ASK_LOTS = 7
SCRATCH_ROWS = 8

# apply flags (non-negative; parse failures are the decimal kernels' negative statuses)
SPILLED = 1  # some levels fell outside the window: see S_SPILL_B / S_SPILL_A
ATTENTION = 2  # a side is empty in the window, or the touch drifted a quarter window off centre
CROSSED = 4  # the window's best bid >= its best ask
PARSED = 8  # ingest_frame_: parsed into scratch and the header, not applied

ANY_SYMBOL = -2  # depth_frame_'s `symbol_at` when the caller did not look for the symbol
MISMATCH = -16  # depth_frame_: not a depth event, or its symbol is not where the caller saw it

# ingest_frame_'s `expect_prev`: apply only if the frame's pu equals it (and u is newer), or:
APPLY_ALWAYS = -2
APPLY_NEVER = -1


@njit(cache=True, nogil=True)
def scan_bid_(row: np.ndarray, start: int) -> int:
    """Highest index <= start with a non-zero quantity, or -1."""
    i = start
    while i >= 0:
        if row[i] != 0:
            return i
        i -= 1
    return -1


@njit(cache=True, nogil=True)
def scan_ask_(row: np.ndarray, start: int) -> int:
    """Lowest index >= start with a non-zero quantity, or len(row)."""
    n: int = row.shape[0]
    i = start
    while i < n:
        if row[i] != 0:
            return i
        i += 1
    return n


@njit(cache=True, nogil=True)
def _apply_bids(
    row: np.ndarray,
    base: int,
    ticks: np.ndarray,
    lots: np.ndarray,
    count: int,
    best: int,
    spill_ticks: np.ndarray,
    spill_lots: np.ndarray,
) -> tuple[int, int]:
    window = row.shape[0]
    spilled = 0
    removed = False
    for k in range(count):
        i = ticks[k] - base
        q = lots[k]
        if i < 0 or i >= window:
            spill_ticks[spilled] = ticks[k]
            spill_lots[spilled] = q
            spilled += 1
            continue
        row[i] = q
        if q != 0:
            if i > best:
                best = i
        elif i == best:
            removed = True
    if removed and row[best] == 0:
        best = scan_bid_(row, best)
    return best, spilled


@njit(cache=True, nogil=True)
def _apply_asks(
    row: np.ndarray,
    base: int,
    ticks: np.ndarray,
    lots: np.ndarray,
    count: int,
    best: int,
    spill_ticks: np.ndarray,
    spill_lots: np.ndarray,
) -> tuple[int, int]:
    window = row.shape[0]
    spilled = 0
    removed = False
    for k in range(count):
        i = ticks[k] - base
        q = lots[k]
        if i < 0 or i >= window:
            spill_ticks[spilled] = ticks[k]
            spill_lots[spilled] = q
            spilled += 1
            continue
        row[i] = q
        if q != 0:
            if i < best:
                best = i
        elif i == best:
            removed = True
    if removed and row[best] == 0:
        best = scan_ask_(row, best)
    return best, spilled


@njit(cache=True, nogil=True)
def apply_(
    qty: np.ndarray, state: np.ndarray, scratch: np.ndarray, n_bids: int, n_asks: int
) -> int:
    """Set absolute quantities (0 deletes) from the scratch level rows; returns flags.

    Levels outside the window are not applied but copied to the spill rows (SPILLED).
    """
    base = state[S_BASE]
    window = qty.shape[1]
    bid, spill_b = _apply_bids(
        qty[BIDS],
        base,
        scratch[R_BID_TICKS],
        scratch[R_BID_LOTS],
        n_bids,
        state[S_BID],
        scratch[R_SPILL_BID_TICKS],
        scratch[R_SPILL_BID_LOTS],
    )
    ask, spill_a = _apply_asks(
        qty[ASKS],
        base,
        scratch[R_ASK_TICKS],
        scratch[R_ASK_LOTS],
        n_asks,
        state[S_ASK],
        scratch[R_SPILL_ASK_TICKS],
        scratch[R_SPILL_ASK_LOTS],
    )
    state[S_BID] = bid
    state[S_ASK] = ask
    state[S_SPILL_B] = spill_b
    state[S_SPILL_A] = spill_a
    flags = 0
    if spill_b or spill_a:
        flags |= SPILLED
    if bid < 0 or ask >= window:
        flags |= ATTENTION
    else:
        if abs((bid + ask) // 2 - window // 2) > window // 4:
            flags |= ATTENTION
        if bid >= ask:
            flags |= CROSSED
    return flags


@njit(cache=True, nogil=True)
def parse_(buf: bytes, state: np.ndarray, scratch: np.ndarray) -> int:
    """Parse `[bids, asks]` JSON into the scratch level rows (counts in S_NB, S_NA).

    Returns:
        0, or a negative status from the decimal kernels (nothing usable in scratch).
    """
    status, n_bids, n_asks = level_sides_(
        buf,
        state[S_PDEC],
        state[S_QDEC],
        state[S_TICK],
        state[S_LOT],
        scratch[R_BID_TICKS],
        scratch[R_BID_LOTS],
        scratch[R_ASK_TICKS],
        scratch[R_ASK_LOTS],
    )
    state[S_NB] = n_bids
    state[S_NA] = n_asks
    return status


@njit(cache=True, nogil=True)
def ingest_(buf: bytes, qty: np.ndarray, state: np.ndarray, scratch: np.ndarray) -> int:
    """Parse `[bids, asks]` JSON and apply it: all levels or, on a bad one, none.

    Returns:
        apply_'s flags (>= 0), or a negative parse status with the book unchanged.
    """
    status = parse_(buf, state, scratch)
    if status < 0:
        return status
    return apply_(qty, state, scratch, state[S_NB], state[S_NA])


@njit(cache=True, nogil=True)
def _parse_frame(frame: bytes, state: np.ndarray, scratch: np.ndarray, meta: np.ndarray) -> int:
    # A diff-depth frame into the scratch rows at the book's grid; ids and time into `meta`.
    return parse_depth_(
        frame,
        state[S_PDEC],
        state[S_QDEC],
        state[S_TICK],
        state[S_LOT],
        meta,
        scratch[R_BID_TICKS],
        scratch[R_BID_LOTS],
        scratch[R_ASK_TICKS],
        scratch[R_ASK_LOTS],
    )


@njit(cache=True, nogil=True)
def ingest_frame_(
    frame: bytes, qty: np.ndarray, state: np.ndarray, scratch: np.ndarray, expect_prev: int
) -> int:
    """Parse a diff-depth frame's bytes (raw or combined) and, if it continues the chain
    (`pu == expect_prev`, `U <= u`, `u > expect_prev`), apply it in the same call.

    Returns:
        apply_'s flags when applied; PARSED when parsed but not applied (levels in scratch,
        U/u/pu/E in the state header); a negative kernels.parse status when the frame is not
        what this fast path reads (nothing changed).
    """
    meta = state[S_META : S_META + META_SIZE]
    status = _parse_frame(frame, state, scratch, meta)
    if status != 0:
        return status
    first = meta[META_FIRST]
    final = meta[META_FINAL]
    if expect_prev != APPLY_ALWAYS and (
        expect_prev == APPLY_NEVER
        or meta[META_PREV] != expect_prev
        or first > final
        or final <= expect_prev
    ):
        return PARSED
    return apply_(qty, state, scratch, meta[META_BIDS], meta[META_ASKS])


@njit(cache=True, nogil=True)
def top_(
    qty: np.ndarray,
    state: np.ndarray,
    side: int,
    n: int,
    out_px: np.ndarray,
    out_qty: np.ndarray,
    start: int,
) -> int:
    """Write the window's best levels of a side (ticks, lots), best first, from out[start]
    until out[n - 1]; returns the index after the last written."""
    row = qty[side]
    base = state[S_BASE]
    filled = start
    if side == BIDS:
        i = state[S_BID]
        while i >= 0 and filled < n:
            if row[i] != 0:
                out_px[filled] = base + i
                out_qty[filled] = row[i]
                filled += 1
            i -= 1
    else:
        size = row.shape[0]
        i = state[S_ASK]
        while i < size and filled < n:
            if row[i] != 0:
                out_px[filled] = base + i
                out_qty[filled] = row[i]
                filled += 1
            i += 1
    return filled


@njit(cache=True, nogil=True)
def sum_between_(row: np.ndarray, low: int, high: int) -> int:
    """Sum of row[low..high] inclusive, clamped to the row."""
    low = max(low, 0)
    high = min(high, row.shape[0] - 1)
    total = 0
    for i in range(low, high + 1):
        total += row[i]
    return total


@njit(cache=True, nogil=True)
def depth_frame_(
    qty: np.ndarray,
    state: np.ndarray,
    scratch: np.ndarray,
    frame: bytes,
    expect_prev: int,
    symbol_at: int,
) -> tuple[int, int, int]:
    """The receive path's one call per diff-depth frame: as `ingest_frame_`, for a frame whose
    event is a "depthUpdate" with its own "s" value at `symbol_at` (where the caller found
    the symbol that chose this book; ANY_SYMBOL: not checked); any other frame is declined
    (MISMATCH) with the book unchanged. `expect_prev` < 0 only parses.
    The state's S_IRREGULAR adds ATTENTION to an apply's flags, so 0 means done.

    Returns:
        (flags or status as `ingest_frame_`'s, u, E) with u and E 0 when declined.
    """
    meta = state[S_META : S_META + META_SIZE]
    status = _parse_frame(frame, state, scratch, meta)
    if status != 0:
        return status, 0, 0
    if (symbol_at != ANY_SYMBOL and meta[META_SYMBOL] != symbol_at) or meta[META_DEPTH] != 1:
        return MISMATCH, 0, 0
    final = meta[META_FINAL]
    if (
        expect_prev < 0
        or meta[META_PREV] != expect_prev
        or meta[META_FIRST] > final
        or final <= expect_prev
    ):
        return PARSED, final, meta[META_EVENT_TIME]
    flags = apply_(qty, state, scratch, meta[META_BIDS], meta[META_ASKS])
    if state[S_IRREGULAR]:
        flags |= ATTENTION
    return flags, final, meta[META_EVENT_TIME]
