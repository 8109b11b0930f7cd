"""numba kernels over one side of an integer-tick book window.

A side is an int64 array of lots indexed by (tick - base). Bids keep their best at the
highest non-zero index, asks at the lowest; the caller caches the best index and the
kernels maintain it, scanning only when the best level itself is removed.
Only numpy and numba may be imported here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["apply_ask_", "apply_bid_", "scan_ask_", "scan_bid_", "top_ask_", "top_bid_"]


@njit(cache=True, nogil=True)
def scan_bid_(qty: np.ndarray, start: int) -> int:
    """Highest index <= start with a non-zero quantity, or -1."""
    i = start
    while i >= 0:
        if qty[i] != 0:
            return i
        i -= 1
    return -1


@njit(cache=True, nogil=True)
def scan_ask_(qty: np.ndarray, start: int) -> int:
    """Lowest index >= start with a non-zero quantity, or len(qty)."""
    n: int = qty.shape[0]
    i = start
    while i < n:
        if qty[i] != 0:
            return i
        i += 1
    return n


@njit(cache=True, nogil=True)
def _in_window(ticks: np.ndarray, count: int, base: int, size: int) -> bool:
    for k in range(count):
        i = ticks[k] - base
        if i < 0 or i >= size:
            return False
    return True


@njit(cache=True, nogil=True)
def apply_bid_(
    qty: np.ndarray, base: int, ticks: np.ndarray, lots: np.ndarray, count: int, best: int
) -> int:
    """Set absolute bid quantities; returns the new best index (-1 if empty), or -2 without
    changing anything if a tick falls outside the window."""
    if not _in_window(ticks, count, base, qty.shape[0]):
        return -2
    removed_best = False
    for k in range(count):
        i = ticks[k] - base
        q = lots[k]
        qty[i] = q
        if q != 0:
            if i > best:
                best = i
        elif i == best:
            removed_best = True
    if removed_best and (best < 0 or qty[best] == 0):
        best = scan_bid_(qty, best)
    return best


@njit(cache=True, nogil=True)
def apply_ask_(
    qty: np.ndarray, base: int, ticks: np.ndarray, lots: np.ndarray, count: int, best: int
) -> int:
    """Set absolute ask quantities; returns the new best index (len if empty), or -2 without
    changing anything if a tick falls outside the window."""
    n = qty.shape[0]
    if not _in_window(ticks, count, base, n):
        return -2
    removed_best = False
    for k in range(count):
        i = ticks[k] - base
        q = lots[k]
        qty[i] = q
        if q != 0:
            if i < best:
                best = i
        elif i == best:
            removed_best = True
    if removed_best and (best >= n or qty[best] == 0):
        best = scan_ask_(qty, best)
    return best


@njit(cache=True, nogil=True)
def top_bid_(
    qty: np.ndarray, best: int, base: int, n: int, out_px: np.ndarray, out_qty: np.ndarray
) -> int:
    """Fill up to n best bid levels (ticks, lots), best first; returns how many."""
    filled = 0
    i = best
    while i >= 0 and filled < n:
        if qty[i] != 0:
            out_px[filled] = base + i
            out_qty[filled] = qty[i]
            filled += 1
        i -= 1
    return filled


@njit(cache=True, nogil=True)
def top_ask_(
    qty: np.ndarray, best: int, base: int, n: int, out_px: np.ndarray, out_qty: np.ndarray
) -> int:
    """Fill up to n best ask levels (ticks, lots), best first; returns how many."""
    size = qty.shape[0]
    filled = 0
    i = best
    while i < size and filled < n:
        if qty[i] != 0:
            out_px[filled] = base + i
            out_qty[filled] = qty[i]
            filled += 1
        i += 1
    return filled
