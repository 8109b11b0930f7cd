"""numba kernels reading ASCII decimal text into integer units, and arrays of price levels.

A value is read as `digits[.digits]` (no sign, exponent, spaces or separators) into units of
10**-decimals. Digits past `decimals` must be zeros ("64000.1000" is 6400010 at two
decimals); a non-zero one means the value is finer than the grid. Results are below
`UNIT_LIMIT`, so the book's int64 arithmetic never overflows. Errors are negative statuses,
never exceptions: the caller decides what a bad value means.
Only numpy, numba and the kernels package here.
"""

from __future__ import annotations

import numpy as np

from hftui.engine.kernels import inline_kernel, kernel

__all__ = [
    "MALFORMED",
    "OFF_GRID",
    "TOO_LARGE",
    "TOO_MANY",
    "UNIT_LIMIT",
    "decimal_units_",
    "level_pairs_",
    "level_sides_",
    "quoted_",
]

MALFORMED = -1  # not `digits[.digits]`, or not the JSON shape expected
OFF_GRID = -2  # more precision than the decimals (or a tick / step) allow
TOO_LARGE = -3  # at or above UNIT_LIMIT
TOO_MANY = -4  # more levels than the output arrays hold

UNIT_LIMIT = 10**18
_DIGIT_LIMIT = 10**17  # a value at or above this cannot take another digit

_QUOTE = 34
_COMMA = 44
_DOT = 46
_ZERO = 48
_NINE = 57
_LBRACKET = 91
_BACKSLASH = 92
_RBRACKET = 93


@kernel
def decimal_units_(buf: bytes, start: int, end: int, decimals: int) -> int:
    """Units of 10**-decimals written in buf[start:end], or a negative status.

    Precedence when several things are wrong: MALFORMED, then OFF_GRID, then TOO_LARGE.
    """
    if start >= end:
        return MALFORMED
    value = 0
    big = False
    i = start
    while i < end and buf[i] != _DOT:
        c = buf[i]
        if c < _ZERO or c > _NINE:
            return MALFORMED
        if value >= _DIGIT_LIMIT:
            big = True
        else:
            value = value * 10 + (c - _ZERO)
        i += 1
    if i == start:
        return MALFORMED  # no integer digits (".5")
    frac = 0
    finer = False
    if i < end:
        i += 1  # the point
        if i == end:
            return MALFORMED  # no fraction digits ("5.")
        while i < end:
            c = buf[i]
            if c < _ZERO or c > _NINE:
                return MALFORMED
            if frac < decimals:
                if value >= _DIGIT_LIMIT:
                    big = True
                else:
                    value = value * 10 + (c - _ZERO)
                frac += 1
            elif c != _ZERO:
                finer = True
            i += 1
    if finer:
        return OFF_GRID
    return _scaled(value, frac, decimals, big)


@inline_kernel
def _scaled(value: int, frac: int, decimals: int, big: bool) -> int:
    # The digits read, with `frac` of them after the point, in units of 10**-decimals;
    # TOO_LARGE when they overflowed the digit limit, before or now.
    while frac < decimals:
        if value >= _DIGIT_LIMIT:
            big = True
        else:
            value *= 10
        frac += 1
    return TOO_LARGE if big else value


@inline_kernel
def _skip_ws(buf: bytes, i: int, n: int) -> int:
    while i < n and (buf[i] == 32 or buf[i] == 9 or buf[i] == 10 or buf[i] == 13):
        i += 1
    return i


@inline_kernel
def quoted_(buf: bytes, i: int, n: int, decimals: int) -> tuple[int, int]:
    # A JSON string at i holding a decimal: (index after the closing quote, units or a
    # negative value status), or (MALFORMED, 0) when it is not a plain string.
    # The common case, "digits" or "digits.digits", in two tight loops; anything else is
    # read again by `_quoted_general`, which decides what is wrong with it.
    if i >= n or buf[i] != _QUOTE:
        return MALFORMED, 0
    j = i + 1
    start = j
    value = 0
    big = False
    while j < n:
        d = buf[j] - _ZERO
        if d < 0 or d > 9:
            break
        if value >= _DIGIT_LIMIT:
            big = True
        else:
            value = value * 10 + d
        j += 1
    if j == start or j >= n:
        return _quoted_general(buf, i, n, decimals)
    frac = 0
    finer = False
    if buf[j] == _DOT:
        j += 1
        point = j
        while j < n:
            d = buf[j] - _ZERO
            if d < 0 or d > 9:
                break
            if frac < decimals:
                if value >= _DIGIT_LIMIT:
                    big = True
                else:
                    value = value * 10 + d
                frac += 1
            elif d != 0:
                finer = True
            j += 1
        if j == point or j >= n:
            return _quoted_general(buf, i, n, decimals)
    if buf[j] != _QUOTE:
        return _quoted_general(buf, i, n, decimals)
    if finer:
        return j + 1, OFF_GRID
    return j + 1, _scaled(value, frac, decimals, big)


@kernel
def _quoted_general(buf: bytes, i: int, n: int, decimals: int) -> tuple[int, int]:
    # A JSON string at i holding a decimal: (index after the closing quote, units or a
    # negative value status), or (MALFORMED, 0) when it is not a plain string. A decimal never
    # needs an escape, so a backslash is malformed. `decimal_units_` in one pass with the
    # scan for the closing quote: the same grammar, limit and precedence of errors.
    if i >= n or buf[i] != _QUOTE:
        return MALFORMED, 0
    i += 1
    start = i
    value = 0
    big = False
    bad = False  # a character that is neither a digit nor the one point
    dot = -1  # where the point is
    frac = 0  # fraction digits taken into value
    finer = False
    while i < n:
        c = buf[i]
        if _ZERO <= c <= _NINE:
            if dot < 0 or frac < decimals:
                if value >= _DIGIT_LIMIT:
                    big = True
                else:
                    value = value * 10 + (c - _ZERO)
                if dot >= 0:
                    frac += 1
            elif c != _ZERO:
                finer = True
        elif c == _QUOTE:
            break
        elif c == _DOT and dot < 0:
            dot = i
        elif c == _BACKSLASH:
            return MALFORMED, 0
        else:
            bad = True
        i += 1
    if i >= n:
        return MALFORMED, 0
    # Empty, no integer digits (".5"), no fraction digits ("5."), or a stray character.
    if bad or i == start or dot == start or dot == i - 1:
        return i + 1, MALFORMED
    if finer:
        return i + 1, OFF_GRID
    return i + 1, _scaled(value, frac, decimals, big)


@kernel
def level_pairs_(
    buf: bytes,
    i: int,
    n: int,
    price_decimals: int,
    qty_decimals: int,
    tick_units: int,
    lot_units: int,
    ticks: np.ndarray,
    lots: np.ndarray,
) -> tuple[int, int]:
    """Parse a JSON array of `["price","qty"]` pairs starting at buf[i] into ticks and lots.

    The whole array is read even after a bad value, so a syntax error anywhere reports
    MALFORMED; otherwise the first bad value's status is returned.

    Returns:
        (index after the array, number of levels), or (negative status, 0).
    """
    i = _skip_ws(buf, i, n)
    if i >= n or buf[i] != _LBRACKET:
        return MALFORMED, 0
    i = _skip_ws(buf, i + 1, n)
    if i < n and buf[i] == _RBRACKET:
        return i + 1, 0
    capacity = ticks.shape[0]
    count = 0
    status = 0
    while i < n:
        if buf[i] != _LBRACKET:
            return MALFORMED, 0
        i, price = quoted_(buf, _skip_ws(buf, i + 1, n), n, price_decimals)
        if i < 0:
            return MALFORMED, 0
        i = _skip_ws(buf, i, n)
        if i >= n or buf[i] != _COMMA:
            return MALFORMED, 0
        i, qty = quoted_(buf, _skip_ws(buf, i + 1, n), n, qty_decimals)
        if i < 0:
            return MALFORMED, 0
        i = _skip_ws(buf, i, n)
        if i >= n or buf[i] != _RBRACKET:
            return MALFORMED, 0
        if status == 0:
            if price < 0:
                status = price
            elif qty < 0:
                status = qty
            elif count >= capacity:
                status = TOO_MANY
            else:
                # A grid of one unit (the usual case: see OrderBook) needs no division.
                if tick_units != 1:
                    if price % tick_units != 0:
                        status = OFF_GRID
                    price //= tick_units
                if lot_units != 1:
                    if qty % lot_units != 0:
                        status = OFF_GRID
                    qty //= lot_units
                ticks[count] = price
                lots[count] = qty
                count += 1
        i = _skip_ws(buf, i + 1, n)
        if i < n and buf[i] == _COMMA:
            i = _skip_ws(buf, i + 1, n)
            continue
        if i < n and buf[i] == _RBRACKET:
            if status != 0:
                return status, 0
            return i + 1, count
        return MALFORMED, 0
    return MALFORMED, 0


@kernel
def level_sides_(
    buf: bytes,
    price_decimals: int,
    qty_decimals: int,
    tick_units: int,
    lot_units: int,
    bid_ticks: np.ndarray,
    bid_lots: np.ndarray,
    ask_ticks: np.ndarray,
    ask_lots: np.ndarray,
) -> tuple[int, int, int]:
    """Parse `[bids, asks]` (as orjson writes a pair of level lists) into the four arrays.

    Returns:
        (0, n_bids, n_asks), or (negative status, 0, 0).
    """
    n = len(buf)
    i = _skip_ws(buf, 0, n)
    if i >= n or buf[i] != _LBRACKET:
        return MALFORMED, 0, 0
    i, n_bids = level_pairs_(
        buf, i + 1, n, price_decimals, qty_decimals, tick_units, lot_units, bid_ticks, bid_lots
    )
    if i < 0:
        return i, 0, 0
    i = _skip_ws(buf, i, n)
    if i >= n or buf[i] != _COMMA:
        return MALFORMED, 0, 0
    i, n_asks = level_pairs_(
        buf, i + 1, n, price_decimals, qty_decimals, tick_units, lot_units, ask_ticks, ask_lots
    )
    if i < 0:
        return i, 0, 0
    i = _skip_ws(buf, i, n)
    if i >= n or buf[i] != _RBRACKET or _skip_ws(buf, i + 1, n) != n:
        return MALFORMED, 0, 0
    return 0, n_bids, n_asks
