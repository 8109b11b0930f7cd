"""numba kernel parsing a Binance diff-depth frame straight from its bytes.

One pass over the frame (raw `{"e":"depthUpdate",...}` or combined `{"stream":..,"data":{..}}`)
collects `U`, `u`, `pu` and both sides' levels as integer ticks and lots, with no Python
objects created. Anything unexpected returns a negative status and the caller falls back to
the general JSON path, which reports the problem properly. Only numpy and numba here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "META_ASKS",
    "META_BIDS",
    "META_EVENT_TIME",
    "META_FINAL",
    "META_FIRST",
    "META_PREV",
    "META_SIZE",
    "parse_depth_",
]

META_FIRST = 0  # U
META_FINAL = 1  # u
META_PREV = 2  # pu
META_BIDS = 3  # levels parsed into the bid arrays
META_ASKS = 4
META_EVENT_TIME = 5  # E, 0 if absent
META_SIZE = 8

_QUOTE = 34  # "
_COLON = 58
_COMMA = 44
_LBRACKET = 91
_RBRACKET = 93
_LBRACE = 123
_DOT = 46
_MINUS = 45
_ZERO = 48
_NINE = 57
_BACKSLASH = 92

# Status codes (negative: fall back to the JSON path).
OK = 0
BAD_SYNTAX = -1
BAD_NUMBER = -2
OFF_GRID = -3
TOO_MANY = -4
MISSING = -5


@njit(cache=True, nogil=True)
def _skip_ws(frame: bytes, i: int, n: int) -> int:
    while i < n and (frame[i] == 32 or frame[i] == 9 or frame[i] == 10 or frame[i] == 13):
        i += 1
    return i


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _decimal(frame: bytes, i: int, n: int, decimals: int, out: np.ndarray) -> int:
    # Parse `"123.4500"` at i (opening quote) into units of 10**-decimals in out[0].
    # Returns the index after the closing quote, or a negative status.
    if i >= n or frame[i] != _QUOTE:
        return BAD_SYNTAX
    i += 1
    value = 0
    digits = 0
    frac = -1
    while i < n:
        c = frame[i]
        if _ZERO <= c <= _NINE:
            d = c - _ZERO
            if frac < 0:
                value = value * 10 + d
                digits += 1
            elif frac < decimals:
                value = value * 10 + d
                digits += 1
                frac += 1
            elif d != 0:
                return OFF_GRID  # more precision than the grid has
            if digits > 17:
                return BAD_NUMBER
        elif c == _DOT:
            if frac >= 0:
                return BAD_NUMBER
            frac = 0
        elif c == _QUOTE:
            break
        else:
            return BAD_NUMBER
        i += 1
    if i >= n or digits == 0:
        return BAD_NUMBER
    if frac < 0:
        frac = 0
    while frac < decimals:
        value *= 10
        frac += 1
    out[0] = value
    return i + 1


@njit(cache=True, nogil=True)
def _integer(frame: bytes, i: int, n: int, out: np.ndarray) -> int:
    value = 0
    digits = 0
    while i < n and _ZERO <= frame[i] <= _NINE:
        value = value * 10 + (frame[i] - _ZERO)
        digits += 1
        i += 1
    if digits == 0 or digits > 18:
        return BAD_NUMBER
    out[0] = value
    return i


@njit(cache=True, nogil=True)
def _levels(
    frame: bytes,
    i: int,
    n: int,
    price_decimals: int,
    qty_decimals: int,
    tick_units: int,
    lot_units: int,
    ticks: np.ndarray,
    lots: np.ndarray,
    scratch: np.ndarray,
) -> tuple[int, int]:
    # Parse `[["p","q"],...]` at i; returns (index after it or status, count).
    if frame[i] != _LBRACKET:
        return BAD_SYNTAX, 0
    i = _skip_ws(frame, i + 1, n)
    count = 0
    capacity = ticks.shape[0]
    if i < n and frame[i] == _RBRACKET:
        return i + 1, 0
    while i < n:
        if frame[i] != _LBRACKET:
            return BAD_SYNTAX, count
        i = _skip_ws(frame, i + 1, n)
        i = _decimal(frame, i, n, price_decimals, scratch)
        if i < 0:
            return i, count
        price = scratch[0]
        i = _skip_ws(frame, i, n)
        if i >= n or frame[i] != _COMMA:
            return BAD_SYNTAX, count
        i = _skip_ws(frame, i + 1, n)
        i = _decimal(frame, i, n, qty_decimals, scratch)
        if i < 0:
            return i, count
        qty = scratch[0]
        i = _skip_ws(frame, i, n)
        if i >= n or frame[i] != _RBRACKET:
            return BAD_SYNTAX, count
        if price % tick_units != 0 or qty % lot_units != 0:
            return OFF_GRID, count
        if count >= capacity:
            return TOO_MANY, count
        ticks[count] = price // tick_units
        lots[count] = qty // lot_units
        count += 1
        i = _skip_ws(frame, i + 1, n)
        if i < n and frame[i] == _COMMA:
            i = _skip_ws(frame, i + 1, n)
            continue
        if i < n and frame[i] == _RBRACKET:
            return i + 1, count
        return BAD_SYNTAX, count
    return BAD_SYNTAX, count


@njit(cache=True, nogil=True)
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
    """Parse one diff-depth frame; fills `meta` and the four level arrays.

    Returns:
        0 on success, a negative status if the frame is not what this fast path expects.
    """
    n = len(frame)
    scratch = meta[META_SIZE - 1 :]  # a view: no allocation per call
    seen = 0  # bits: U, u, pu, b, a
    meta[META_EVENT_TIME] = 0
    i = 0
    while i < n:
        if frame[i] != _QUOTE:
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
        if key_len == 1 and k0 == 85:  # "U"
            j = _integer(frame, j, n, scratch)
            meta[META_FIRST] = scratch[0]
            seen |= 1
        elif key_len == 1 and k0 == 69 and _ZERO <= frame[j] <= _NINE:  # "E"
            j = _integer(frame, j, n, scratch)
            meta[META_EVENT_TIME] = scratch[0]
        elif key_len == 1 and k0 == 117:  # "u"
            j = _integer(frame, j, n, scratch)
            meta[META_FINAL] = scratch[0]
            seen |= 2
        elif key_len == 2 and k0 == 112 and frame[key_start + 1] == 117:  # "pu"
            j = _integer(frame, j, n, scratch)
            meta[META_PREV] = scratch[0]
            seen |= 4
        elif key_len == 1 and (k0 == 98 or k0 == 97) and frame[j] == _LBRACKET:  # "b" / "a"
            if k0 == 98:
                j, count = _levels(
                    frame,
                    j,
                    n,
                    price_decimals,
                    qty_decimals,
                    tick_units,
                    lot_units,
                    bid_ticks,
                    bid_lots,
                    scratch,
                )
                meta[META_BIDS] = count
                seen |= 8
            else:
                j, count = _levels(
                    frame,
                    j,
                    n,
                    price_decimals,
                    qty_decimals,
                    tick_units,
                    lot_units,
                    ask_ticks,
                    ask_lots,
                    scratch,
                )
                meta[META_ASKS] = count
                seen |= 16
        elif frame[j] == _QUOTE:
            j = _skip_string(frame, j, n)
        elif frame[j] == _LBRACE:
            j += 1  # step into a nested object ("data"): its keys are scanned next
        if j < 0:
            return j if j < -1 else BAD_SYNTAX
        i = j
    if seen != 31:
        return MISSING
    return OK
