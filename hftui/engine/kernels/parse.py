"""numba kernel parsing a Binance diff-depth frame straight from its bytes.

One pass over the frame (raw `{"e":"depthUpdate",...}` or combined `{"stream":..,"data":{..}}`)
collects `U`, `u`, `pu` and both sides' levels as integer ticks and lots, with no Python
objects created. Anything unexpected returns a negative status and the caller falls back to
the general JSON path, which reports the problem properly. Only numpy and numba here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hftui.engine.kernels.decimal import level_pairs_  # one number grammar for every reader

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
_LBRACKET = 91
_LBRACE = 123
_ZERO = 48
_NINE = 57
_BACKSLASH = 92

# Status codes (negative: fall back to the JSON path).
OK = 0
BAD_SYNTAX = -1
BAD_NUMBER = -2
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
                seen |= 8
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
