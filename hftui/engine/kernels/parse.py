"""numba kernel parsing a Binance diff-depth or bookTicker frame straight from its bytes.

One pass over the frame (raw `{"e":"depthUpdate",...}` or combined `{"stream":..,"data":{..}}`)
collects `U`, `u`, `pu` and both sides' levels as integer ticks and lots, or a bookTicker's
`u` and its best bid and ask (`b`, `B`, `a`, `A`), with no Python objects created. Anything
unexpected returns a negative status and the caller falls back to the general JSON path,
which reports the problem properly.
Only numpy, numba and the kernels package here.
"""

from __future__ import annotations

import numpy as np

from hftui.engine.kernels import inline_kernel, kernel

# One number grammar for every reader.
from hftui.engine.kernels.decimal import OFF_GRID, level_pairs_, quoted_

__all__ = [
    "META_ASKS",
    "META_BIDS",
    "META_DEPTH",
    "META_EVENT_TIME",
    "META_FINAL",
    "META_FIRST",
    "META_PREV",
    "META_SIZE",
    "META_SYMBOL",
    "META_TICKER_ASK",
    "META_TICKER_ASK_QTY",
    "META_TICKER_BID",
    "META_TICKER_BID_QTY",
    "parse_depth_",
]

META_FIRST = 0  # U
META_FINAL = 1  # u
META_PREV = 2  # pu
META_BIDS = 3  # levels parsed into the bid arrays
META_ASKS = 4
META_EVENT_TIME = 5  # E, 0 if absent
# Where the event's own "s" value starts (after its quote): -1 if absent, not a plain string,
# or given twice. The caller picked the book by a byte search; this says whether it found
# the event's symbol and not a nested or envelope one.
META_SYMBOL = 6
META_DEPTH = 7  # the event's own "e": 1 "depthUpdate", 2 "bookTicker", 0 anything else
# A bookTicker's best bid and ask (ticks and lots; its u is META_FINAL).
META_TICKER_BID = 8
META_TICKER_BID_QTY = 9
META_TICKER_ASK = 10
META_TICKER_ASK_QTY = 11
META_SIZE = 13  # the last slot is the parser's scratch

_QUOTE = 34  # "
_COLON = 58
_LBRACKET = 91
_LBRACE = 123
_ZERO = 48
_NINE = 57
_BACKSLASH = 92

# parse_depth_'s fields seen.
_FIRST, _FINAL, _PREV, _B_LEVELS, _A_LEVELS = 1, 2, 4, 8, 16
_B_PRICE, _B_QTY, _A_PRICE, _A_QTY = 32, 64, 128, 256
_DEPTH_EVENT = _FIRST | _FINAL | _PREV | _B_LEVELS | _A_LEVELS
_TICKER_EVENT = _FINAL | _B_PRICE | _B_QTY | _A_PRICE | _A_QTY

# Status codes (negative: fall back to the JSON path).
OK = 0
BAD_SYNTAX = -1
BAD_NUMBER = -2
MISSING = -5


@inline_kernel
def _skip_ws(frame: bytes, i: int, n: int) -> int:
    while i < n and (frame[i] == 32 or frame[i] == 9 or frame[i] == 10 or frame[i] == 13):
        i += 1
    return i


@inline_kernel
def _skip_string(frame: bytes, i: int, n: int) -> int:
    # i is at the opening quote; returns the index after the closing quote, or -1.
    i += 1
    while i < n:
        c = frame[i]
        if c == _BACKSLASH:
            i += 2
            continue
        if c == _QUOTE:
            return i + 1
        i += 1
    return -1


@inline_kernel
def _plain(frame: bytes, start: int, end: int) -> bool:
    # A string's content frame[start:end] has no escape (end < start: it was not closed).
    if end < start:
        return False
    for i in range(start, end):  # noqa: SIM110 (numba compiles no generator)
        if frame[i] == _BACKSLASH:
            return False
    return True


_DEPTH_UPDATE = np.frombuffer(b"depthUpdate", np.uint8)
_BOOK_TICKER = np.frombuffer(b"bookTicker", np.uint8)


@inline_kernel
def _is(frame: bytes, start: int, end: int, word: np.ndarray) -> bool:
    if end - start != len(word):
        return False
    for k in range(len(word)):  # noqa: SIM110 (numba compiles no generator)
        if frame[start + k] != word[k]:
            return False
    return True


@kernel
def _event_kind(frame: bytes, start: int, end: int) -> int:
    # META_DEPTH's value for the event type written in frame[start:end].
    if _is(frame, start, end, _DEPTH_UPDATE):
        return 1
    if _is(frame, start, end, _BOOK_TICKER):
        return 2
    return 0


@inline_kernel
def _on_grid(units: int, grid: int) -> int:
    # Units of a value read by `quoted_` in steps of `grid`, or a negative status.
    if units < 0 or grid == 1:
        return units
    if units % grid != 0:
        return OFF_GRID
    return units // grid


@kernel
def _skip_nested(frame: bytes, i: int, n: int) -> int:
    # i is at "{" or "["; returns the index after its matching close, or BAD_SYNTAX.
    depth = 0
    while i < n:
        if frame[i] == _QUOTE:
            i = _skip_string(frame, i, n)
            if i < 0:
                return BAD_SYNTAX
            continue
        if frame[i] == _LBRACE or frame[i] == _LBRACKET:
            depth += 1
        elif frame[i] == 125 or frame[i] == 93:  # "}" or "]"
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return BAD_SYNTAX


@inline_kernel
def _integer(frame: bytes, i: int, n: int, out: np.ndarray) -> int:
    value = 0
    digits = 0
    while i < n and _ZERO <= frame[i] <= _NINE:
        value = value * 10 + (frame[i] - _ZERO)
        digits += 1
        i += 1
    if digits == 0 or digits > 18:
        return BAD_NUMBER
    # An id written as 1009.0 or 1e3 is not an integer: stopping at the "." would read 1009.
    if i < n and (frame[i] == 46 or frame[i] == 101 or frame[i] == 69):  # ".", "e", "E"
        return BAD_NUMBER
    out[0] = value
    return i


@kernel
def parse_depth_(
    frame: bytes,
    price_decimals: int,
    qty_decimals: int,
    tick_units: int,
    lot_units: int,
    meta: np.ndarray,
    bid_ticks: np.ndarray,
    bid_lots: np.ndarray,
    ask_ticks: np.ndarray,
    ask_lots: np.ndarray,
) -> int:
    """Parse one diff-depth frame (`meta` and the four level arrays), or one bookTicker
    frame (`meta`); META_DEPTH says which the event calls itself.

    Returns:
        0 on success, a negative status if the frame is not what this fast path expects:
        neither a whole depth event nor a whole bookTicker, or a value it cannot read.
    """
    n = len(frame)
    scratch = meta[META_SIZE - 1 :]  # a view: no allocation per call
    # Bits: U, u, pu, b and a as level lists (a depth event); b, B, a and A as decimals
    # (with u, a bookTicker). A key given twice counts as its last value, as in a JSON
    # reader: a "b" list then a "b" string is a string.
    seen = 0
    stepped_in = False  # into the combined stream's "data" object, the only one entered
    meta[META_EVENT_TIME] = 0
    meta[META_SYMBOL] = -1
    meta[META_DEPTH] = 0
    symbols = 0  # "s" keys seen in the event
    # One object, closed, and nothing after it: a frame cut short or wrapped in anything
    # else is left to the JSON path, which refuses it as every reader would.
    i = _skip_ws(frame, 0, n)
    if i >= n or frame[i] != _LBRACE:
        return BAD_SYNTAX
    i += 1
    depth = 1
    while i < n:
        if frame[i] != _QUOTE:
            if frame[i] == 125:  # "}"
                depth -= 1
                if depth == 0:
                    if _skip_ws(frame, i + 1, n) != n:
                        return BAD_SYNTAX
                    break
            i += 1
            continue
        key_start = i + 1
        end = _skip_string(frame, i, n)
        if end < 0:
            return BAD_SYNTAX
        key_len = end - 1 - key_start
        j = _skip_ws(frame, end, n)
        if j >= n or frame[j] != _COLON:
            i = end  # a string that is not a key
            continue
        j = _skip_ws(frame, j + 1, n)
        if j >= n:
            return BAD_SYNTAX
        k0 = frame[key_start]
        if stepped_in and depth == 1:
            k0 = 0  # after "data": envelope keys are not the event's, so none below matches
        if key_len == 1 and k0 == 85:  # "U"
            j = _integer(frame, j, n, scratch)
            meta[META_FIRST] = scratch[0]
            seen |= _FIRST
        elif key_len == 1 and k0 == 69 and _ZERO <= frame[j] <= _NINE:  # "E"
            j = _integer(frame, j, n, scratch)
            meta[META_EVENT_TIME] = scratch[0]
        elif key_len == 1 and k0 == 117:  # "u"
            j = _integer(frame, j, n, scratch)
            meta[META_FINAL] = scratch[0]
            seen |= _FINAL
        elif key_len == 2 and k0 == 112 and frame[key_start + 1] == 117:  # "pu"
            j = _integer(frame, j, n, scratch)
            meta[META_PREV] = scratch[0]
            seen |= _PREV
        elif key_len == 1 and (k0 == 98 or k0 == 97) and frame[j] == _LBRACKET:  # "b" / "a"
            if k0 == 98:
                j, count = level_pairs_(
                    frame,
                    j,
                    n,
                    price_decimals,
                    qty_decimals,
                    tick_units,
                    lot_units,
                    bid_ticks,
                    bid_lots,
                )
                meta[META_BIDS] = count
                seen = (seen | _B_LEVELS) & ~_B_PRICE
            else:
                j, count = level_pairs_(
                    frame,
                    j,
                    n,
                    price_decimals,
                    qty_decimals,
                    tick_units,
                    lot_units,
                    ask_ticks,
                    ask_lots,
                )
                meta[META_ASKS] = count
                seen = (seen | _A_LEVELS) & ~_A_PRICE
        elif key_len == 1 and (k0 == 98 or k0 == 97 or k0 == 66 or k0 == 65) and frame[j] == _QUOTE:
            # A bookTicker's "b", "a" (prices) or "B", "A" (quantities).
            price = k0 == 98 or k0 == 97
            j, units = quoted_(frame, j, n, price_decimals if price else qty_decimals)
            value = _on_grid(units, tick_units if price else lot_units)
            if j < 0 or value < 0:
                return BAD_NUMBER
            if k0 == 98:
                meta[META_TICKER_BID] = value
                seen = (seen | _B_PRICE) & ~_B_LEVELS
            elif k0 == 97:
                meta[META_TICKER_ASK] = value
                seen = (seen | _A_PRICE) & ~_A_LEVELS
            elif k0 == 66:
                meta[META_TICKER_BID_QTY] = value
                seen |= _B_QTY
            else:
                meta[META_TICKER_ASK_QTY] = value
                seen |= _A_QTY
        elif key_len == 1 and k0 == 115 and frame[j] == _QUOTE:  # "s"
            end = _skip_string(frame, j, n)
            symbols += 1
            meta[META_SYMBOL] = j + 1 if symbols == 1 and _plain(frame, j + 1, end - 1) else -1
            j = end
        elif key_len == 1 and k0 == 101 and frame[j] == _QUOTE:  # "e"
            end = _skip_string(frame, j, n)
            meta[META_DEPTH] = _event_kind(frame, j + 1, end - 1)
            j = end
        elif frame[j] == _QUOTE:
            j = _skip_string(frame, j, n)
        elif (
            frame[j] == _LBRACE
            and not stepped_in
            and key_len == 4
            and frame[key_start] == 100  # "data"
            and frame[key_start + 1] == 97
            and frame[key_start + 2] == 116
            and frame[key_start + 3] == 97
        ):
            stepped_in = True
            depth += 1
            seen = 0  # only the event's own fields count, not the envelope's before it
            meta[META_EVENT_TIME] = 0
            meta[META_SYMBOL] = -1
            meta[META_DEPTH] = 0
            symbols = 0
            j += 1  # the combined stream's event: its keys are scanned next
        elif frame[j] == _LBRACE or frame[j] == _LBRACKET:
            # Skipped whole: keys inside would be taken for the event's own (a nested "b"
            # for the bids).
            j = _skip_nested(frame, j, n)
        if j < 0:
            return j if j < -1 else BAD_SYNTAX
        i = j
    if depth != 0:
        return BAD_SYNTAX
    if (seen & _DEPTH_EVENT) != _DEPTH_EVENT and (seen & _TICKER_EVENT) != _TICKER_EVENT:
        return MISSING
    return OK
