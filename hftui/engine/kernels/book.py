"""numba kernels over an integer-tick book window.

The book is `qty`, an int64 array of shape (2, window): row BIDS and row ASKS hold the lots at
tick `base + index`. `state` (int64, STATE_SIZE) holds the base, the cached best index of each
side (bids: highest non-zero index or -1; asks: lowest or window), the grid and the level
counts of the last parse, and the diff-depth chain. `scratch` (int64, (SCRATCH_ROWS,
capacity)) holds parsed levels and the levels that fell outside the window ("spill") for the
caller to keep elsewhere. All three are views of one buffer (BUFFER LAYOUT below), which also
holds the frame latency histograms, so that `frame_`, the receive path's one call per frame,
takes a single array. The kernels maintain the cached bests and scan only when a best level
itself is removed.
Only numpy, numba and the sibling kernel modules here.
"""

from __future__ import annotations

import numpy as np

from hftui.engine.kernels import inline_kernel, kernel
from hftui.engine.kernels.decimal import level_sides_
from hftui.engine.kernels.hist import HIST_SIZE, observe_, wall_ns_
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
    META_TICKER_ASK,
    META_TICKER_ASK_QTY,
    META_TICKER_BID,
    META_TICKER_BID_QTY,
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
    "E_LIMIT",
    "FLAG_BITS",
    "FLAG_MASK",
    "HIST_DELAY_AT",
    "HIST_INGEST_AT",
    "MISMATCH",
    "PARSED",
    "QTY_AT",
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
    "S_CAPACITY",
    "S_EXPECT",
    "S_IRREGULAR",
    "S_LAST_U",
    "S_LOT",
    "S_META",
    "S_NA",
    "S_NB",
    "S_PDEC",
    "S_QDEC",
    "S_QTY_AT",
    "S_RUN_BYTES",
    "S_RUN_E",
    "S_RUN_TICKERS",
    "S_SCRATCH_AT",
    "S_SPILL_A",
    "S_SPILL_B",
    "S_TICK",
    "S_TIMED",
    "S_TK_ASK",
    "S_TK_ASK_QTY",
    "S_TK_BID",
    "S_TK_BID_QTY",
    "S_TK_CALM",
    "S_TK_CHECKED",
    "S_TK_U",
    "S_WINDOW",
    "TOP_DUE",
    "apply_",
    "frame_",
    "ingest_",
    "ingest_frame_",
    "parse_",
    "run_",
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
# The diff-depth chain, kept here so the receive path's kernel checks and advances it alone:
S_LAST_U = S_META + META_SIZE  # u of the last applied event, or the snapshot's id
S_EXPECT = S_LAST_U + 1  # the pu the next event must carry to be applied; < 0: parse only
S_TIMED = S_LAST_U + 2  # 1: frame_ observes ingest latency and feed delay (wall clock)
# Where `frame_` finds the book's arrays in its one buffer (see BUFFER LAYOUT below).
S_WINDOW = S_LAST_U + 3
S_CAPACITY = S_LAST_U + 4  # scratch columns
S_QTY_AT = S_LAST_U + 5
S_SCRATCH_AT = S_LAST_U + 6
S_RUN_E = S_LAST_U + 7  # run_: E of the last depth frame it applied (0: none or out of range)
S_RUN_BYTES = S_LAST_U + 8  # run_: the bytes of the frames it took
S_RUN_TICKERS = S_LAST_U + 9  # run_: how many of them were bookTickers
# The venue's bookTicker (u, best bid and ask in ticks and lots), which the book's top must
# match once the book has reached its u: kept here so that run_ takes bookTickers and does
# the check itself while they agree.
S_TK_U = S_LAST_U + 10  # 0: none yet
S_TK_BID = S_LAST_U + 11
S_TK_BID_QTY = S_LAST_U + 12
S_TK_ASK = S_LAST_U + 13
S_TK_ASK_QTY = S_LAST_U + 14
S_TK_CHECKED = S_LAST_U + 15  # the ticker u last compared with the book
S_TK_CALM = S_LAST_U + 16  # 1 unless the caller is timing a disagreement
STATE_SIZE = S_LAST_U + 17

# BUFFER LAYOUT: a book's arrays are views of one int64 buffer, so the receive path's kernel
# takes a single array (each array argument costs its own unboxing on every call):
# state, then two latency histograms (kernels.hist layout), then qty, then scratch.
HIST_INGEST_AT = STATE_SIZE  # frame received -> book applied
HIST_DELAY_AT = STATE_SIZE + HIST_SIZE  # venue event time -> frame received
QTY_AT = STATE_SIZE + 2 * HIST_SIZE

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
TOP_DUE = 16  # frame_: applied, and the caller must compare the top with the bookTicker

ANY_SYMBOL = -2  # frame_'s `symbol_at` when the caller did not look for the symbol
MISMATCH = -16  # frame_: not a depth event, or its symbol is not where the caller saw it

# frame_ returns its flags in the low FLAG_BITS bits and the frame's E (ms; 0 if absent or
# not below E_LIMIT) above them: one int for the caller to unbox, not a tuple.
FLAG_BITS = 8
FLAG_MASK = (1 << FLAG_BITS) - 1
E_LIMIT = 1 << 54

# ingest_frame_'s `expect_prev`: apply only if the frame's pu equals it (and u is newer), or:
APPLY_ALWAYS = -2
APPLY_NEVER = -1


@kernel
def scan_bid_(row: np.ndarray, start: int) -> int:
    """Highest index <= start with a non-zero quantity, or -1."""
    i = start
    while i >= 0:
        if row[i] != 0:
            return i
        i -= 1
    return -1


@kernel
def scan_ask_(row: np.ndarray, start: int) -> int:
    """Lowest index >= start with a non-zero quantity, or len(row)."""
    n: int = row.shape[0]
    i = start
    while i < n:
        if row[i] != 0:
            return i
        i += 1
    return n


@kernel
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


@kernel
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


@kernel
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


@kernel
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


@kernel
def ingest_(buf: bytes, qty: np.ndarray, state: np.ndarray, scratch: np.ndarray) -> int:
    """Parse `[bids, asks]` JSON and apply it: all levels or, on a bad one, none.

    Returns:
        apply_'s flags (>= 0), or a negative parse status with the book unchanged.
    """
    status = parse_(buf, state, scratch)
    if status < 0:
        return status
    return apply_(qty, state, scratch, state[S_NB], state[S_NA])


@kernel
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


@kernel
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


@kernel
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


@kernel
def sum_between_(row: np.ndarray, low: int, high: int) -> int:
    """Sum of row[low..high] inclusive, clamped to the row."""
    low = max(low, 0)
    high = min(high, row.shape[0] - 1)
    total = 0
    for i in range(low, high + 1):
        total += row[i]
    return total


@inline_kernel
def _same_symbol(frame: np.ndarray, at: int, symbol: np.ndarray) -> bool:
    # The event's own "s" value, starting at `at` (-1: none), is exactly `symbol`.
    width: int = symbol.shape[0]
    if at < 0 or at + width >= frame.shape[0] or frame[at + width] != 34:  # its closing quote
        return False
    k = 0
    while k < width and frame[at + k] == symbol[k]:
        k += 1
    return k == width


@inline_kernel
def _top_is(
    qty: np.ndarray, state: np.ndarray, bid: int, bid_qty: int, ask: int, ask_qty: int
) -> bool:
    # The window's best bid and ask, with their lots, are these (ticks; -1: none). Only
    # meaningful while no overflow level is better (S_IRREGULAR clear).
    base = state[S_BASE]
    i = state[S_BID]
    k = state[S_ASK]
    have_bid = base + i if i >= 0 else -1
    have_ask = base + k if k < qty.shape[1] else -1
    if have_bid != bid or have_ask != ask:
        return False
    bid_ok = i < 0 or qty[BIDS, i] == bid_qty
    ask_ok = k >= qty.shape[1] or qty[ASKS, k] == ask_qty
    return bool(bid_ok and ask_ok)


@inline_kernel
def _top_agrees(qty: np.ndarray, state: np.ndarray) -> bool:
    # The top is the bookTicker's kept in S_TK_*.
    return _top_is(
        qty, state, state[S_TK_BID], state[S_TK_BID_QTY], state[S_TK_ASK], state[S_TK_ASK_QTY]
    )


@inline_kernel
def _ticker_due(state: np.ndarray) -> bool:
    # A bookTicker the book has reached is not yet compared, or a disagreement is timed.
    update_id = state[S_TK_U]
    return bool(
        (update_id > state[S_TK_CHECKED] or state[S_TK_CALM] == 0) and state[S_LAST_U] >= update_id
    )


@kernel
def run_(
    buf: np.ndarray,
    symbol: np.ndarray,
    blob: np.ndarray,
    sizes: np.ndarray,
    first: int,
    recv_ns: int,
) -> int:
    """`frame_` over a run of frames: the frames are `blob` (uint8) cut into `sizes` (int64:
    frame j is the sizes[j] bytes after the frames before it), taken from frame `first` on
    while each is an event of the book's `symbol` (its bytes, uint8) that the book can take
    here: a "depthUpdate" that continues the chain, applied as `frame_` applies it, or a
    "bookTicker" while the book is live, kept in S_TK_*. When the book has reached the
    ticker's u, the two tops are compared here (as the caller's check would) and the run
    goes on while they agree and no disagreement is being timed.

    The run ends before the first frame it cannot take, leaving that frame to the caller
    untouched (a bookTicker whose top disagrees among them); after a depth frame whose apply
    set flags (the caller settles it, as after `frame_`), or after which the tops must be
    compared by the caller. S_RUN_E holds the E of the last depth frame applied,
    S_RUN_BYTES the bytes of the frames taken, S_RUN_TICKERS how many were bookTickers. With
    S_TIMED set, each depth frame applied with no flags is observed as `frame_` observes
    it, against `recv_ns`.

    Returns:
        The frames taken above FLAG_BITS, the last depth frame's apply flags below.
    """
    state = buf[:STATE_SIZE]
    window = state[S_WINDOW]
    qty_at = state[S_QTY_AT]
    qty = buf[qty_at : qty_at + 2 * window].reshape((2, window))
    capacity = state[S_CAPACITY]
    scratch_at = state[S_SCRATCH_AT]
    scratch = buf[scratch_at : scratch_at + SCRATCH_ROWS * capacity].reshape(
        (SCRATCH_ROWS, capacity)
    )
    meta = state[S_META : S_META + META_SIZE]
    count = sizes.shape[0]
    origin = 0
    for k in range(first):
        origin += sizes[k]
    start = origin
    state[S_RUN_BYTES] = 0
    state[S_RUN_TICKERS] = 0
    j = first
    flags = 0
    while j < count:
        end = start + sizes[j]
        frame = blob[start:end]  # a view; the parser reads an array as it reads bytes
        if _parse_frame(frame, state, scratch, meta) != 0:  # type: ignore[arg-type]
            break
        kind = meta[META_DEPTH]
        if kind == 0 or not _same_symbol(frame, meta[META_SYMBOL], symbol):
            break
        final = meta[META_FINAL]
        expect = state[S_EXPECT]
        if kind == 2:  # a bookTicker, taken only by a live book the caller need not fix
            if expect < 0 or state[S_IRREGULAR]:
                break
            bid, bid_qty = meta[META_TICKER_BID], meta[META_TICKER_BID_QTY]
            ask, ask_qty = meta[META_TICKER_ASK], meta[META_TICKER_ASK_QTY]
            due = state[S_LAST_U] >= final
            if due and not (state[S_TK_CALM] and _top_is(qty, state, bid, bid_qty, ask, ask_qty)):
                break
            state[S_TK_U] = final
            state[S_TK_BID] = bid
            state[S_TK_BID_QTY] = bid_qty
            state[S_TK_ASK] = ask
            state[S_TK_ASK_QTY] = ask_qty
            if due:
                state[S_TK_CHECKED] = final
            state[S_RUN_TICKERS] += 1
            j += 1
            start = end
            state[S_RUN_BYTES] = end - origin
            continue
        if expect < 0 or meta[META_PREV] != expect or meta[META_FIRST] > final or final <= expect:
            break
        flags = apply_(qty, state, scratch, meta[META_BIDS], meta[META_ASKS])
        state[S_EXPECT] = final
        state[S_LAST_U] = final
        event_time = meta[META_EVENT_TIME]
        state[S_RUN_E] = event_time if 0 <= event_time < E_LIMIT else 0
        j += 1
        start = end
        state[S_RUN_BYTES] = end - origin
        if state[S_IRREGULAR]:
            flags |= ATTENTION
        if flags != 0:
            break
        if state[S_TIMED]:
            observe_(buf, HIST_INGEST_AT, wall_ns_() - recv_ns)
            if event_time:
                observe_(buf, HIST_DELAY_AT, recv_ns - event_time * 1_000_000)
        if _ticker_due(state):
            if not (state[S_TK_CALM] and _top_agrees(qty, state)):
                break  # the caller compares, and times a disagreement
            state[S_TK_CHECKED] = state[S_TK_U]
    return ((j - first) << FLAG_BITS) | flags


@kernel
def frame_(buf: np.ndarray, frame: bytes, symbol_at: int, recv_ns: int) -> int:
    """The receive path's one call per diff-depth frame, over a book's whole buffer (see
    BUFFER LAYOUT): parse the frame's bytes (raw or combined); decline it (MISMATCH, book
    unchanged) unless its event is a "depthUpdate" whose own "s" value starts at `symbol_at`
    (where the caller found the symbol that chose this book; ANY_SYMBOL: not checked); and
    apply it if it continues the chain in S_EXPECT (pu == S_EXPECT, U <= u, u > S_EXPECT),
    advancing S_EXPECT and S_LAST_U to its u. The state's S_IRREGULAR adds ATTENTION to an
    apply's flags, so 0 means done: then, with S_TIMED set, the frame's ingest latency (now
    less `recv_ns`) and feed delay (`recv_ns` less E) are observed here too, and if the book
    has reached the bookTicker kept in S_TK_* it compares the two tops: TOP_DUE, alone,
    when the caller must (they differ, or it is timing a disagreement).

    Returns:
        A negative status when declined; else apply_'s flags when applied, or PARSED when
        parsed but not applied (levels in scratch, U/u/pu/E in the header), with the frame's
        E above FLAG_BITS.
    """
    state = buf[:STATE_SIZE]
    window = state[S_WINDOW]
    qty_at = state[S_QTY_AT]
    qty = buf[qty_at : qty_at + 2 * window].reshape((2, window))
    capacity = state[S_CAPACITY]
    scratch_at = state[S_SCRATCH_AT]
    scratch = buf[scratch_at : scratch_at + SCRATCH_ROWS * capacity].reshape(
        (SCRATCH_ROWS, capacity)
    )
    meta = state[S_META : S_META + META_SIZE]
    status = _parse_frame(frame, state, scratch, meta)
    if status != 0:
        return status
    if (symbol_at != ANY_SYMBOL and meta[META_SYMBOL] != symbol_at) or meta[META_DEPTH] != 1:
        return MISMATCH
    final = meta[META_FINAL]
    expect = state[S_EXPECT]
    event_time = meta[META_EVENT_TIME]
    packed_time = event_time << FLAG_BITS if 0 <= event_time < E_LIMIT else 0
    if expect < 0 or meta[META_PREV] != expect or meta[META_FIRST] > final or final <= expect:
        return PARSED | packed_time
    flags = apply_(qty, state, scratch, meta[META_BIDS], meta[META_ASKS])
    state[S_EXPECT] = final
    state[S_LAST_U] = final
    if state[S_IRREGULAR]:
        flags |= ATTENTION
    if flags != 0:
        return flags | packed_time
    if state[S_TIMED]:
        observe_(buf, HIST_INGEST_AT, wall_ns_() - recv_ns)
        if event_time:
            observe_(buf, HIST_DELAY_AT, recv_ns - event_time * 1_000_000)
    if _ticker_due(state):  # the bookTicker check, done here while the tops agree
        if not (state[S_TK_CALM] and _top_agrees(qty, state)):
            return TOP_DUE | packed_time
        state[S_TK_CHECKED] = state[S_TK_U]
    return packed_time
