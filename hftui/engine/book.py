"""One symbol's order book in integer ticks and lots.

Owns: the quantity at every price level of both sides. Each side is a numpy window of
`window_ticks` ticks around the mid, maintained by numba kernels, plus an overflow map for
the rare level outside the window (a deep snapshot, a far quote). When the touch drifts near
a window edge the window recentres and levels move between window and overflow; none is lost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, NamedTuple

import numpy as np

from hftui.engine.kernels.book import (
    apply_ask_,
    apply_bid_,
    scan_ask_,
    scan_bid_,
    top_ask_,
    top_bid_,
)
from hftui.engine.kernels.parse import (
    META_ASKS,
    META_BIDS,
    META_EVENT_TIME,
    META_FINAL,
    META_FIRST,
    META_PREV,
    META_SIZE,
    parse_depth_,
)
from hftui.protocol import format_units

__all__ = ["OrderBook", "RawDiff", "decimals_of"]

_SCRATCH: Final = 1024  # levels per side per message handled without reallocating


class RawDiff(NamedTuple):
    """A diff parsed into integer ticks and lots; the arrays may be the book's scratch."""

    first_id: int
    final_id: int
    prev_final_id: int
    bid_ticks: np.ndarray
    bid_lots: np.ndarray
    n_bids: int
    ask_ticks: np.ndarray
    ask_lots: np.ndarray
    n_asks: int
    event_time_ms: int = 0

    def copy(self) -> RawDiff:
        """Detached from scratch buffers, for events kept while waiting for a snapshot."""
        return self._replace(
            bid_ticks=self.bid_ticks[: self.n_bids].copy(),
            bid_lots=self.bid_lots[: self.n_bids].copy(),
            ask_ticks=self.ask_ticks[: self.n_asks].copy(),
            ask_lots=self.ask_lots[: self.n_asks].copy(),
        )


def decimals_of(step: str) -> int:
    """Digits after the point in a filter value as the venue writes it ("0.10" -> 2)."""
    return len(step.split(".", 1)[1]) if "." in step else 0


class OrderBook:
    """Price levels of one symbol; prices in ticks, sizes in lots."""

    def __init__(self, symbol: str, tick_size: str, step_size: str, window_ticks: int = 1 << 16):
        self.symbol = symbol
        self.tick_size = tick_size
        self.step_size = step_size
        self.price_decimals = decimals_of(tick_size)
        self.qty_decimals = decimals_of(step_size)
        self._price_scale = float(10**self.price_decimals)
        self._qty_scale = float(10**self.qty_decimals)
        self.tick_units = int(tick_size.replace(".", ""))  # units of 10**-price_decimals
        self.lot_units = int(step_size.replace(".", ""))
        if self.tick_units <= 0 or self.lot_units <= 0:
            raise ValueError(f"{symbol}: tick {tick_size!r} and step {step_size!r} must be > 0")
        self.window = window_ticks
        self._bids = np.zeros(window_ticks, np.int64)
        self._asks = np.zeros(window_ticks, np.int64)
        self._base = 0  # tick of index 0
        self._best_bid = -1  # index into the window, -1 if none there
        self._best_ask = window_ticks  # index, window if none there
        self._over_bids: dict[int, int] = {}  # tick -> lots, outside the window
        self._over_asks: dict[int, int] = {}
        self._meta = np.zeros(META_SIZE, np.int64)
        self._bid_ticks = np.zeros(_SCRATCH, np.int64)
        self._bid_lots = np.zeros(_SCRATCH, np.int64)
        self._ask_ticks = np.zeros(_SCRATCH, np.int64)
        self._ask_lots = np.zeros(_SCRATCH, np.int64)

    # ---- numbers --------------------------------------------------------------------------

    def _to_units(self, text: str | bytes, scale: float, what: str) -> int:
        try:
            value = float(text) * scale
            units = round(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{self.symbol}: malformed {what} {text!r}") from exc
        # A remainder means more decimals than the grid has; the tolerance only absorbs the
        # float rounding of float(text) * scale, which stays below a few ulps.
        if abs(value - units) > max(1e-6, abs(value) * 2e-15) or units < 0:
            raise ValueError(f"{self.symbol}: {what} {text!r} is not on the grid")
        return units

    def price_to_ticks(self, price: str | bytes) -> int:
        """Exact tick count of a price string; ValueError if malformed or off the tick grid."""
        units = self._to_units(price, self._price_scale, "price")
        ticks, rest = divmod(units, self.tick_units)
        if rest:
            raise ValueError(f"{self.symbol}: price {price!r} is off the tick {self.tick_size}")
        return ticks

    def qty_to_lots(self, qty: str | bytes) -> int:
        """Exact lot count of a quantity string; ValueError if malformed or off the step."""
        units = self._to_units(qty, self._qty_scale, "quantity")
        lots, rest = divmod(units, self.lot_units)
        if rest:
            raise ValueError(f"{self.symbol}: quantity {qty!r} is off the step {self.step_size}")
        return lots

    def format_price(self, ticks: int) -> str:
        return format_units(ticks * self.tick_units, self.price_decimals)

    def format_qty(self, lots: int) -> str:
        return format_units(lots * self.lot_units, self.qty_decimals)

    # ---- updates --------------------------------------------------------------------------

    def clear(self) -> None:
        self._bids[:] = 0
        self._asks[:] = 0
        self._best_bid = -1
        self._best_ask = self.window
        self._over_bids.clear()
        self._over_asks.clear()

    def _parse(self, levels: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        try:
            ticks = np.fromiter((self.price_to_ticks(p) for p, _ in levels), np.int64, len(levels))
            lots = np.fromiter((self.qty_to_lots(q) for _, q in levels), np.int64, len(levels))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{self.symbol}: bad level: {exc}") from exc
        return ticks, lots

    def load_snapshot(self, bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> None:
        """Replace the whole book. Raises ValueError on a malformed level (book then empty)."""
        self.clear()
        bid_ticks, bid_lots = self._parse(bids)
        ask_ticks, ask_lots = self._parse(asks)
        live_bids, live_asks = bid_ticks[bid_lots > 0], ask_ticks[ask_lots > 0]
        top_bid = int(live_bids.max()) if live_bids.size else None
        top_ask = int(live_asks.min()) if live_asks.size else None
        anchor = next((t for t in (top_bid, top_ask) if t is not None), 0)
        mid = (top_bid + top_ask) // 2 if top_bid is not None and top_ask is not None else anchor
        self._base = mid - self.window // 2
        self.apply_ticks(bid_ticks, bid_lots, len(bids), ask_ticks, ask_lots, len(asks))

    def apply(self, bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> None:
        """Apply absolute quantities ("0" deletes). All-or-nothing: a bad level raises
        ValueError before anything changes."""
        bid_ticks, bid_lots = self._parse(bids)
        ask_ticks, ask_lots = self._parse(asks)
        self.apply_ticks(bid_ticks, bid_lots, len(bids), ask_ticks, ask_lots, len(asks))

    def parse_raw(self, frame: bytes) -> RawDiff | None:
        """Parse a diff-depth frame's bytes in numba into this book's scratch arrays.

        Returns None when the fast path does not apply (malformed, off-grid, unusual), and
        the caller uses the general JSON path instead.
        """
        meta = self._meta
        status = parse_depth_(
            frame,
            self.price_decimals,
            self.qty_decimals,
            self.tick_units,
            self.lot_units,
            meta,
            self._bid_ticks,
            self._bid_lots,
            self._ask_ticks,
            self._ask_lots,
        )
        if status != 0:
            return None
        return RawDiff(
            int(meta[META_FIRST]),
            int(meta[META_FINAL]),
            int(meta[META_PREV]),
            self._bid_ticks,
            self._bid_lots,
            int(meta[META_BIDS]),
            self._ask_ticks,
            self._ask_lots,
            int(meta[META_ASKS]),
            int(meta[META_EVENT_TIME]),
        )

    def apply_ticks(
        self,
        bid_ticks: np.ndarray,
        bid_lots: np.ndarray,
        n_bids: int,
        ask_ticks: np.ndarray,
        ask_lots: np.ndarray,
        n_asks: int,
    ) -> None:
        """Apply absolute quantities given as ticks and lots (the hot path)."""
        best = int(apply_bid_(self._bids, self._base, bid_ticks, bid_lots, n_bids, self._best_bid))
        if best == -2:
            self._apply_slow(bid_ticks, bid_lots, n_bids, True)
        else:
            self._best_bid = best
        best = int(apply_ask_(self._asks, self._base, ask_ticks, ask_lots, n_asks, self._best_ask))
        if best == -2:
            self._apply_slow(ask_ticks, ask_lots, n_asks, False)
        else:
            self._best_ask = best
        # Fast exit when the touch is comfortably inside the window (the usual case).
        margin = self.window >> 3
        if (
            margin <= self._best_bid < self.window - margin
            and margin <= self._best_ask < self.window - margin
            and not self._over_bids
            and not self._over_asks
        ):
            return
        self._maybe_recenter()

    def _apply_slow(self, ticks: np.ndarray, lots: np.ndarray, count: int, is_bid: bool) -> None:
        # Some levels fall outside the window: apply one by one, spilling to the overflow.
        qty = self._bids if is_bid else self._asks
        over = self._over_bids if is_bid else self._over_asks
        inside_ticks, inside_lots = [], []
        for k in range(count):
            tick, size = int(ticks[k]), int(lots[k])
            if 0 <= tick - self._base < self.window:
                inside_ticks.append(tick)
                inside_lots.append(size)
            elif size:
                over[tick] = size
            else:
                over.pop(tick, None)
        arr_ticks = np.array(inside_ticks, np.int64)
        arr_lots = np.array(inside_lots, np.int64)
        if is_bid:
            self._best_bid = int(
                apply_bid_(qty, self._base, arr_ticks, arr_lots, len(arr_ticks), self._best_bid)
            )
        else:
            self._best_ask = int(
                apply_ask_(qty, self._base, arr_ticks, arr_lots, len(arr_ticks), self._best_ask)
            )

    def _maybe_recenter(self) -> None:
        # Recentre when the touch is outside or within 1/8 of the window of an edge.
        bid, ask = self.best_bid(), self.best_ask()
        if bid < 0 and ask < 0:
            return
        margin = self.window // 8
        low, high = self._base + margin, self._base + self.window - margin
        touch = [t for t in (bid, ask) if t >= 0]
        if all(low <= t < high for t in touch):
            return
        mid = (bid + ask) // 2 if bid >= 0 and ask >= 0 else touch[0]
        self._recenter(mid)

    def _recenter(self, mid: int) -> None:
        bids, asks = self.levels()
        self.clear()
        self._base = mid - self.window // 2
        bid_ticks = np.array([t for t, _ in bids], np.int64)
        bid_lots = np.array([q for _, q in bids], np.int64)
        ask_ticks = np.array([t for t, _ in asks], np.int64)
        ask_lots = np.array([q for _, q in asks], np.int64)
        self._apply_slow(bid_ticks, bid_lots, len(bids), True)
        self._apply_slow(ask_ticks, ask_lots, len(asks), False)

    # ---- queries --------------------------------------------------------------------------

    def best_bid(self) -> int:
        """Best bid in ticks, -1 if the side is empty."""
        best = self._base + self._best_bid if self._best_bid >= 0 else -1
        if self._over_bids:
            best = max(best, max(self._over_bids))
        return best

    def best_ask(self) -> int:
        """Best ask in ticks, -1 if the side is empty."""
        best = self._base + self._best_ask if self._best_ask < self.window else -1
        if self._over_asks:
            far = min(self._over_asks)
            best = far if best < 0 else min(best, far)
        return best

    def is_crossed(self) -> bool:
        bid, ask = self.best_bid(), self.best_ask()
        return bid >= 0 and ask >= 0 and bid >= ask

    def top(
        self,
        n: int,
        bid_px: np.ndarray,
        bid_qty: np.ndarray,
        ask_px: np.ndarray,
        ask_qty: np.ndarray,
    ) -> tuple[int, int]:
        """Fill caller-owned int64 arrays with the best n levels per side, best first."""
        n_bids = int(top_bid_(self._bids, self._best_bid, self._base, n, bid_px, bid_qty))
        n_asks = int(top_ask_(self._asks, self._best_ask, self._base, n, ask_px, ask_qty))
        if self._over_bids:
            n_bids = self._merge(self._over_bids, n, bid_px, bid_qty, n_bids, reverse=True)
        if self._over_asks:
            n_asks = self._merge(self._over_asks, n, ask_px, ask_qty, n_asks, reverse=False)
        return n_bids, n_asks

    @staticmethod
    def _merge(
        over: dict[int, int], n: int, px: np.ndarray, qty: np.ndarray, filled: int, reverse: bool
    ) -> int:
        levels = [(int(px[k]), int(qty[k])) for k in range(filled)]
        levels.extend(over.items())
        levels.sort(reverse=reverse)
        levels = levels[:n]
        for k, (p, q) in enumerate(levels):
            px[k] = p
            qty[k] = q
        return len(levels)

    def levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Every level (ticks, lots) of both sides, best first."""
        bid_idx = np.nonzero(self._bids)[0]
        ask_idx = np.nonzero(self._asks)[0]
        bids = [(self._base + int(i), int(self._bids[i])) for i in bid_idx]
        asks = [(self._base + int(i), int(self._asks[i])) for i in ask_idx]
        bids.extend(self._over_bids.items())
        asks.extend(self._over_asks.items())
        bids.sort(reverse=True)
        asks.sort()
        return bids, asks

    def microprice(self) -> float:
        """Size-weighted mid of the touch in ticks (nan if a side is empty)."""
        bid_px, bid_qty, ask_px, ask_qty = (np.zeros(1, np.int64) for _ in range(4))
        nb, na = self.top(1, bid_px, bid_qty, ask_px, ask_qty)
        if not nb or not na:
            return math.nan
        total = bid_qty[0] + ask_qty[0]
        return float((bid_px[0] * ask_qty[0] + ask_px[0] * bid_qty[0]) / total)

    def imbalance(self, n: int) -> float:
        """(bid lots - ask lots) / total over the best n levels per side, in [-1, 1]."""
        bid_px, bid_qty, ask_px, ask_qty = (np.zeros(n, np.int64) for _ in range(4))
        nb, na = self.top(n, bid_px, bid_qty, ask_px, ask_qty)
        bids, asks = int(bid_qty[:nb].sum()), int(ask_qty[:na].sum())
        return (bids - asks) / (bids + asks) if bids + asks else 0.0

    def depth_within(self, bps: float) -> tuple[int, int]:
        """Lots on each side within `bps` basis points of the mid."""
        bid, ask = self.best_bid(), self.best_ask()
        if bid < 0 or ask < 0:
            return 0, 0
        mid = (bid + ask) / 2
        reach = mid * bps / 10_000
        bids, asks = self.levels()
        return (
            sum(q for p, q in bids if p >= mid - reach),
            sum(q for p, q in asks if p <= mid + reach),
        )

    def scan_check(self) -> None:
        """Recompute cached bests from scratch (tests use it to validate the kernels)."""
        self._best_bid = int(scan_bid_(self._bids, self.window - 1))
        self._best_ask = int(scan_ask_(self._asks, 0))
