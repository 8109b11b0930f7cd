"""One symbol's order book in integer ticks and lots.

Owns: the quantity at every price level of both sides. The levels live in a numpy window of
`window_ticks` ticks around the mid, maintained by numba kernels, plus a sorted overflow map
per side for the rare level outside the window (a deep snapshot, a far quote). When the touch
drifts a quarter window off centre, or leaves the window, the window recentres and levels
move between window and overflow; none is lost.

Numbers are exact: prices and quantities are read as decimal text straight into integer
units, never through float. Level lists as orjson decodes them are written back to JSON by
orjson in one call and read by one numba kernel that parses and applies them; single values
(a trade's price) go through the pure-Python reader, which is the faster of the two for one
value.

The receive path's frames take one numba call each (`take_frame`): the book's arrays are views
of a single buffer that also holds the diff-depth chain (the u to follow, which `DepthSync`
sets) and, once `time_frames` attached them, the frame latency histograms, so a frame that
continues the chain is parsed, applied, chained and timed with no Python in between.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final, NamedTuple

import numpy as np
import orjson
from sortedcontainers import SortedDict

from hftui.engine.kernels.book import (
    ANY_SYMBOL,
    APPLY_ALWAYS,
    APPLY_NEVER,
    ASKS,
    ATTENTION,
    BIDS,
    CROSSED,
    FLAG_MASK,
    HIST_DELAY_AT,
    HIST_INGEST_AT,
    PARSED,
    QTY_AT,
    R_ASK_LOTS,
    R_ASK_TICKS,
    R_BID_LOTS,
    R_BID_TICKS,
    R_SPILL_ASK_LOTS,
    R_SPILL_ASK_TICKS,
    R_SPILL_BID_LOTS,
    R_SPILL_BID_TICKS,
    S_ASK,
    S_BASE,
    S_BID,
    S_CAPACITY,
    S_EXPECT,
    S_IRREGULAR,
    S_LAST_U,
    S_LOT,
    S_META,
    S_NA,
    S_NB,
    S_PDEC,
    S_QDEC,
    S_QTY_AT,
    S_RUN_BYTES,
    S_RUN_E,
    S_RUN_TICKERS,
    S_SCRATCH_AT,
    S_SPILL_A,
    S_SPILL_B,
    S_TICK,
    S_TIMED,
    S_TK_ASK,
    S_TK_ASK_QTY,
    S_TK_BID,
    S_TK_BID_QTY,
    S_TK_CALM,
    S_TK_CHECKED,
    S_TK_U,
    S_WINDOW,
    SCRATCH_ROWS,
    SPILLED,
    STATE_SIZE,
    apply_,
    frame_,
    ingest_,
    ingest_frame_,
    parse_,
    run_,
    sum_between_,
    top_,
)
from hftui.engine.kernels.decimal import MALFORMED, OFF_GRID, TOO_MANY, UNIT_LIMIT
from hftui.engine.kernels.hist import HIST_SIZE
from hftui.engine.kernels.parse import (
    META_ASKS,
    META_BIDS,
    META_EVENT_TIME,
    META_FINAL,
    META_FIRST,
    META_PREV,
    META_SIZE,
)
from hftui.engine.metrics import LatencyHistogram, observe_kernel
from hftui.protocol import format_units

__all__ = [
    "ANY_SYMBOL",
    "APPLIED",
    "APPLY_ALWAYS",
    "APPLY_NEVER",
    "ASKS",
    "BIDS",
    "CROSSED_BOOK",
    "DECLINED",
    "INVALID",
    "NOT_APPLIED",
    "OrderBook",
    "RawDiff",
    "decimal_units",
    "decimals_of",
    "frame_run",
    "one_frame",
]

Levels = Sequence[Sequence[str]]

# What `ingest`, `apply_ticks` and `apply_raw` report.
APPLIED: Final = 0
CROSSED_BOOK: Final = 1  # applied, and the book is now crossed
INVALID: Final = 2  # a malformed or off-grid level: nothing applied
NOT_APPLIED: Final = 3  # apply_raw: parsed (see raw_diff) but not the expected next event
DECLINED: Final = 4  # apply_raw: not a frame the fast path reads; nothing parsed or applied

_SCRATCH: Final = 1024  # levels per side per message handled before the scratch grows
_POW10: Final[tuple[int, ...]] = tuple(10**k for k in range(40))
_STATUS_TEXT: Final = {MALFORMED: "malformed", OFF_GRID: "off the grid"}


# kernels.book.frame_'s entry point, found on first use (see `_entry_point`).
_frame: Callable[[np.ndarray, bytes, int, int], int] | None = None


def _entry_point(kernel: Any, *args: object) -> Callable[..., Any]:
    """The compiled function behind a numba kernel for these arguments' types.

    numba's dispatcher works out the types of every argument on every call, about 0.2 us
    for `frame_`'s. The compiled function's own entry point skips that and checks nothing,
    so it is only ever given arguments of exactly these types (a book's own int64 buffer,
    a bytes frame, two ints).
    """
    kernel(*args)  # compiled for these types, or loaded from numba's cache
    compiled = kernel.overloads.get(tuple(kernel.typeof_pyval(a) for a in args))
    entry: Callable[..., Any] = getattr(compiled, "entry_point", None) or kernel
    return entry


def _frame_kernel() -> Callable[[np.ndarray, bytes, int, int], int]:
    global _frame
    if _frame is None:
        observe_kernel()  # the receive path's other kernel: ready before the first frame
        probe = OrderBook("PROBE", "1", "1", 16)  # a real layout: the probe call reads it
        _frame = _entry_point(frame_, probe._buf, b"{}", ANY_SYMBOL, 0)
    return _frame


# kernels.book.run_'s entry point, found on first use, as `_frame`.
_run: Callable[..., int] | None = None


def _run_kernel() -> Callable[..., int]:
    global _run
    if _run is None:
        observe_kernel()
        probe = OrderBook("PROBE", "1", "1", 16)
        blob, sizes = frame_run([b"{}"])
        _run = _entry_point(run_, probe._buf, probe._symbol_bytes, blob, sizes, 0, 0)
    return _run


def frame_run(frames: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Frames as `OrderBook.take_run` reads them: their bytes end to end (read-only uint8)
    and the size of each (int64). Always made here, so the kernel's entry point, which
    checks no types, gets the types it was compiled for."""
    return (
        np.frombuffer(b"".join(frames), np.uint8),
        np.fromiter(map(len, frames), np.int64, len(frames)),
    )


def one_frame(frame: bytes, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`frame_run` of a single frame, for less: its size is written into `sizes`, an int64
    array of shape (1,) that the caller keeps for the purpose."""
    if type(frame) is not bytes:  # a bytearray would make a writable array: another type
        frame = bytes(frame)
    sizes[0] = len(frame)
    return np.frombuffer(frame, np.uint8), sizes


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


def decimal_units(text: str | bytes, decimals: int) -> int:
    """Exact units of 10**-decimals in a decimal string (`digits[.digits]`).

    Digits past `decimals` must be zeros. The pure-Python twin of
    `kernels.decimal.decimal_units_`, with the same grammar and limit.

    Raises:
        ValueError: malformed, finer than `decimals`, or not below 10**18 units.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"malformed decimal {text!r}") from None
    elif not isinstance(text, str):
        raise ValueError(f"malformed decimal {text!r}")
    head, dot, tail = text.partition(".")
    digits = head + tail
    if not head or (dot and not tail) or not digits.isdigit() or not digits.isascii():
        raise ValueError(f"malformed decimal {text!r}")
    if len(tail) > decimals:
        if tail[decimals:].strip("0"):
            raise ValueError(f"{text!r} has more than {decimals} decimals")
        tail = tail[:decimals]
    units = int(head + tail) * _POW10[decimals - len(tail)]
    if units >= UNIT_LIMIT:
        raise ValueError(f"{text!r} is too large")
    return units


def decimals_of(step: str) -> int:
    """Digits after the point in a filter value as the venue writes it ("0.10" -> 2)."""
    return len(step.split(".", 1)[1]) if "." in step else 0


class OrderBook:
    """Price levels of one symbol; prices in ticks, sizes in lots."""

    def __init__(
        self, symbol: str, tick_size: str, step_size: str, window_ticks: int = 1 << 16
    ) -> None:
        if window_ticks < 16:
            raise ValueError(f"{symbol}: window of {window_ticks} ticks is too small")
        if max(decimals_of(tick_size), decimals_of(step_size)) > 17:
            raise ValueError(f"{symbol}: tick {tick_size!r} or step {step_size!r} too fine")
        self.symbol = symbol
        self.tick_size = tick_size
        self.step_size = step_size
        self.price_decimals = decimals_of(tick_size)
        self.qty_decimals = decimals_of(step_size)
        try:
            self.tick_units = decimal_units(tick_size, self.price_decimals)
            self.lot_units = decimal_units(step_size, self.qty_decimals)
        except ValueError as exc:
            raise ValueError(f"{symbol}: bad tick {tick_size!r} or step {step_size!r}") from exc
        if self.tick_units <= 0 or self.lot_units <= 0:
            raise ValueError(f"{symbol}: tick {tick_size!r} and step {step_size!r} must be > 0")
        self.window = window_ticks
        self._latency: tuple[LatencyHistogram, LatencyHistogram] | None = None
        self._layout(_SCRATCH)
        self._state[S_LAST_U] = 0
        self._state[S_EXPECT] = APPLY_NEVER
        self.set_ticker(0, -1, 0, -1, 0)
        self._state[S_TK_CALM] = 1
        self._state[S_PDEC] = self.price_decimals
        self._state[S_QDEC] = self.qty_decimals
        self._state[S_TICK] = self.tick_units
        self._state[S_LOT] = self.lot_units
        self._base = 0  # mirrors state[S_BASE]; only Python moves it
        self._over_bids = SortedDict()  # tick -> lots, outside the window
        self._over_asks = SortedDict()
        # The overflow holds a level better than the window's best (a bid above the window or
        # an ask below it). Recomputed whenever the overflow or the base changes.
        self._irregular = False
        self._out = [np.zeros(1, np.int64) for _ in range(4)]  # for the single-level queries
        # The symbol as its frames spell it, for `take_run` to check each frame's against.
        self._symbol_bytes = np.frombuffer(symbol.encode(), np.uint8)
        self.clear()

    def _layout(self, capacity: int) -> None:
        # Every array of the book is a view of one buffer (kernels.book's BUFFER LAYOUT), so
        # the receive path's kernel takes one array. A bigger scratch means a new buffer,
        # with the state, the histograms and the levels carried over.
        window = self.window
        scratch_at = QTY_AT + 2 * window
        buf = np.zeros(scratch_at + SCRATCH_ROWS * capacity, np.int64)
        old: np.ndarray | None = self.__dict__.get("_buf")
        if old is not None:
            buf[:scratch_at] = old[:scratch_at]
        self._buf = buf
        self._state = buf[:STATE_SIZE]
        # Single slots are read through a memoryview: half the cost of ndarray.item.
        self._slots = self._state.data
        self._state[S_WINDOW] = window
        self._state[S_CAPACITY] = capacity
        self._state[S_QTY_AT] = QTY_AT
        self._state[S_SCRATCH_AT] = scratch_at
        self._qty = buf[QTY_AT:scratch_at].reshape(2, window)
        self._bids = self._qty[BIDS]
        self._asks = self._qty[ASKS]
        self._scratch = buf[scratch_at:].reshape(SCRATCH_ROWS, capacity)
        self._rows = [self._scratch[r] for r in range(SCRATCH_ROWS)]
        if self._latency is not None:
            self._attach(*self._latency)
        # Bound to the old buffer: bound again on use.
        self.__dict__.pop("take_frame", None)
        self.__dict__.pop("take_run", None)

    def _grow(self, capacity: int) -> None:
        self._layout(capacity)

    def _attach(self, ingest: LatencyHistogram, feed_delay: LatencyHistogram) -> None:
        ingest.attach(self._buf[HIST_INGEST_AT : HIST_INGEST_AT + HIST_SIZE])
        feed_delay.attach(self._buf[HIST_DELAY_AT : HIST_DELAY_AT + HIST_SIZE])

    def time_frames(self, ingest: LatencyHistogram, feed_delay: LatencyHistogram) -> None:
        """Have `take_frame` observe each frame it applies outright into these histograms:
        `ingest` from the receive time to now (the wall clock, as `time.time_ns`), and
        `feed_delay` from the event time E to the receive time. They keep their figures."""
        self._latency = (ingest, feed_delay)
        self._attach(ingest, feed_delay)
        self._state[S_TIMED] = 1

    def observe_frame(self, recv_ns: int) -> None:
        """Observe the last frame read, received at `recv_ns`, as `take_frame` does for the
        frames it applies outright (for the others, once the caller has dealt with them)."""
        if self._latency is None:
            return
        ingest, feed_delay = self._latency
        ingest.observe(time.time_ns() - recv_ns)
        event_time = self.raw_event_time_ms()
        if event_time:
            feed_delay.observe(recv_ns - event_time * 1_000_000)

    @property
    def timed(self) -> bool:
        """`take_frame` observes the latencies of the frames it applies outright."""
        return self._latency is not None

    @property
    def update_id(self) -> int:
        """u of the last event applied by a frame read here, or as set by the caller."""
        return self._slots[S_LAST_U]

    def follow(self, update_id: int, live: bool) -> None:
        """Set the chain: `take_frame` applies the frame whose pu is `update_id` if `live`,
        and only parses otherwise."""
        state = self._state
        state[S_LAST_U] = update_id
        state[S_EXPECT] = update_id if live else APPLY_NEVER

    def _set_irregular(self, irregular: bool) -> None:
        self._irregular = irregular
        self._state[S_IRREGULAR] = irregular  # frame_ reads it

    # ---- numbers --------------------------------------------------------------------------

    def price_to_ticks(self, price: str | bytes) -> int:
        """Exact tick count of a price string; ValueError if malformed or off the tick grid."""
        try:
            units = decimal_units(price, self.price_decimals)
        except ValueError as exc:
            raise ValueError(f"{self.symbol}: price {exc}") from None
        ticks, rest = divmod(units, self.tick_units)
        if rest:
            raise ValueError(f"{self.symbol}: price {price!r} is off the tick {self.tick_size}")
        return ticks

    def qty_to_lots(self, qty: str | bytes) -> int:
        """Exact lot count of a quantity string; ValueError if malformed or off the step."""
        try:
            units = decimal_units(qty, self.qty_decimals)
        except ValueError as exc:
            raise ValueError(f"{self.symbol}: quantity {exc}") from None
        lots, rest = divmod(units, self.lot_units)
        if rest:
            raise ValueError(f"{self.symbol}: quantity {qty!r} is off the step {self.step_size}")
        return lots

    def format_price(self, ticks: int) -> str:
        """Exact decimal string of a tick count, with the tick size's decimals."""
        return format_units(ticks * self.tick_units, self.price_decimals)

    def format_qty(self, lots: int) -> str:
        """Exact decimal string of a lot count, with the step size's decimals."""
        return format_units(lots * self.lot_units, self.qty_decimals)

    # ---- parsing --------------------------------------------------------------------------

    def _parse_json(self, bids: Levels, asks: Levels) -> int:
        """Parse both sides into the scratch level rows; returns a kernel status (0 = ok)."""
        try:
            buf = orjson.dumps((bids, asks))
        except TypeError:  # not JSON (bytes, numpy values, ...): the Python reader decides
            return self._parse_python(bids, asks)
        status = parse_(buf, self._state, self._scratch)
        while status == TOO_MANY:
            self._grow(2 * self._scratch.shape[1])
            status = parse_(buf, self._state, self._scratch)
        return status

    def _parse_python(self, bids: Levels, asks: Levels) -> int:
        try:
            parsed = [[self._level(level) for level in side] for side in (bids, asks)]
        except (ValueError, TypeError):
            return MALFORMED
        need = max(len(parsed[0]), len(parsed[1]))
        if need > self._scratch.shape[1]:
            self._grow(max(need, 2 * self._scratch.shape[1]))
        for side, (tick_row, lot_row), count in (
            (parsed[0], (R_BID_TICKS, R_BID_LOTS), S_NB),
            (parsed[1], (R_ASK_TICKS, R_ASK_LOTS), S_NA),
        ):
            self._state[count] = len(side)
            if side:
                self._scratch[tick_row, : len(side)] = [t for t, _ in side]
                self._scratch[lot_row, : len(side)] = [q for _, q in side]
        return 0

    def _level(self, level: Sequence[str]) -> tuple[int, int]:
        if isinstance(level, str | bytes) or len(level) != 2:
            raise ValueError(f"{self.symbol}: a level is a [price, quantity] pair: {level!r}")
        return self.price_to_ticks(level[0]), self.qty_to_lots(level[1])

    def _raise_bad(self, status: int, bids: Levels, asks: Levels) -> None:
        # Find the offending level for the message (slow, only on bad input).
        for side in (bids, asks):
            if isinstance(side, str | bytes) or not isinstance(side, Sequence):
                raise ValueError(f"{self.symbol}: bad level list {side!r}")
            for level in side:
                try:
                    self._level(level)
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{self.symbol}: bad level {level!r}: {exc}") from None
        what = _STATUS_TEXT.get(status, "malformed")
        raise ValueError(f"{self.symbol}: bad level list ({what})")

    def parse_levels(
        self, bids: Levels, asks: Levels
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Both sides as new (bid ticks, bid lots, ask ticks, ask lots) arrays.

        Raises:
            ValueError: a malformed or off-grid level.
        """
        status = self._parse_json(bids, asks)
        if status < 0:
            self._raise_bad(status, bids, asks)
        n_bids, n_asks = int(self._state[S_NB]), int(self._state[S_NA])
        rows = self._rows
        return (
            rows[R_BID_TICKS][:n_bids].copy(),
            rows[R_BID_LOTS][:n_bids].copy(),
            rows[R_ASK_TICKS][:n_asks].copy(),
            rows[R_ASK_LOTS][:n_asks].copy(),
        )

    def _parse(self, levels: Levels) -> tuple[np.ndarray, np.ndarray]:
        # One side as new (ticks, lots) arrays; ValueError on a bad level.
        ticks, lots, _, _ = self.parse_levels(levels, ())
        return ticks, lots

    def parse_diff(
        self, first_id: int, final_id: int, prev_final_id: int, bids: Levels, asks: Levels
    ) -> RawDiff | None:
        """A diff's levels parsed into this book's scratch (None if a level is bad); copy
        the result before the next parse if it must be kept."""
        if self._parse_json(bids, asks) < 0:
            return None
        rows = self._rows
        return RawDiff(
            first_id,
            final_id,
            prev_final_id,
            rows[R_BID_TICKS],
            rows[R_BID_LOTS],
            int(self._state[S_NB]),
            rows[R_ASK_TICKS],
            rows[R_ASK_LOTS],
            int(self._state[S_NA]),
        )

    def parse_raw(self, frame: bytes) -> RawDiff | None:
        """Parse a diff-depth frame's bytes in numba into this book's scratch arrays.

        Returns None when the fast path does not apply (malformed, off-grid, unusual), and
        the caller uses the general JSON path instead.
        """
        if ingest_frame_(frame, self._qty, self._state, self._scratch, APPLY_NEVER) < 0:
            return None
        return self.raw_diff()

    def apply_raw(self, frame: bytes, expect_prev: int = APPLY_ALWAYS) -> int:
        """Parse a diff-depth frame's bytes and apply it, in one numba call.

        With `expect_prev` >= 0 the frame is applied only if it continues that chain
        (pu == expect_prev, u > expect_prev, U <= u); otherwise it is left parsed in the
        scratch for `raw_diff()`. The default applies any readable frame.

        Returns:
            APPLIED or CROSSED_BOOK (applied), NOT_APPLIED, or DECLINED (not readable by the
            fast path, e.g. malformed or off the grid: use the JSON path).
        """
        flags = ingest_frame_(frame, self._qty, self._state, self._scratch, expect_prev)
        if flags == 0 and not self._irregular:
            return APPLIED
        if flags == PARSED:
            return NOT_APPLIED
        if flags < 0:
            return DECLINED
        return self._finish(flags)

    def read_frame(self, frame: bytes, expect_prev: int, symbol_at: int) -> tuple[int, int, int]:
        """Parse a diff-depth frame's bytes and, if it continues the chain `expect_prev`
        (< 0: never), apply it, in one numba call (`kernels.book.frame_`): `frame` must be
        `bytes`. The frame must be a "depthUpdate" whose own symbol starts at byte
        `symbol_at` (ANY_SYMBOL: anywhere). The chain `take_frame` follows is left as it was.

        Returns:
            (flags, u, E): flags 0 applied, other flags >= 0 applied and for `settle`,
            PARSED left in the scratch for `raw_diff()`, negative declined (nothing
            changed; u and E are 0 then).
        """
        state = self._state
        chain = state.item(S_LAST_U), state.item(S_EXPECT), state.item(S_TIMED)
        state[S_EXPECT] = expect_prev if expect_prev >= 0 else APPLY_NEVER
        state[S_TIMED] = 0
        try:
            packed = self.take_frame(frame, symbol_at, 0)
        finally:
            state[S_LAST_U], state[S_EXPECT], state[S_TIMED] = chain
        if packed < 0:
            return packed, 0, 0
        return packed & FLAG_MASK, self.raw_final_id(), self.raw_event_time_ms()

    def take_frame(self, frame: bytes, symbol_at: int, recv_ns: int) -> int:
        """The receive path's one call per diff-depth frame (`kernels.book.frame_`): parse
        `frame` (which must be `bytes`), and apply it if it continues the chain set by
        `follow` (advancing it), observing its latencies if `time_frames` asked for it. The
        frame must be a "depthUpdate" whose own symbol starts at byte `symbol_at`
        (ANY_SYMBOL: anywhere).

        Returns:
            Negative: declined (nothing changed). Else the flags in the low FLAG_BITS bits
            (`& FLAG_MASK`) and the frame's E (ms, 0 if none) above them (`>> FLAG_BITS`):
            flags 0 applied (and timed); other flags applied and for `settle`; PARSED left
            in the scratch for `raw_diff()`.
        """
        # The first call binds the kernel's entry point to this book's buffer, as an
        # instance attribute that shadows this method: later calls go straight to numba.
        bound = partial(_frame_kernel(), self._buf)
        self.take_frame = bound  # type: ignore[method-assign]
        return bound(frame, symbol_at, recv_ns)

    def take_run(self, blob: np.ndarray, sizes: np.ndarray, first: int, recv_ns: int) -> int:
        """`take_frame` for a run of frames (`frame_run`'s two arrays), from frame `first`
        on, received (all) at `recv_ns`, in one numba call (`kernels.book.run_`): it takes
        frames while each is this book's "depthUpdate" that continues the chain (applied)
        or its "bookTicker" while the chain is live (kept, see `ticker`), comparing the two
        tops itself while they agree; it stops before a frame it cannot take, after one
        whose apply set flags, or when the tops must be compared by the caller.

        Returns:
            The frames taken above FLAG_BITS (`>> FLAG_BITS`), the last depth frame's flags
            below (`& FLAG_MASK`, for `settle`); `run_event_time_ms`, `run_bytes` and
            `run_tickers` tell the rest.
        """
        bound = partial(_run_kernel(), self._buf, self._symbol_bytes)
        self.take_run = bound  # type: ignore[method-assign]
        return bound(blob, sizes, first, recv_ns)

    def run_event_time_ms(self) -> int:
        """E of the last depth frame `take_run` applied (0 if it had none)."""
        return self._slots[S_RUN_E]

    def run_bytes(self) -> int:
        """The bytes of the frames `take_run` took."""
        return self._slots[S_RUN_BYTES]

    def run_tickers(self) -> int:
        """How many of the frames `take_run` took were bookTickers."""
        return self._slots[S_RUN_TICKERS]

    # The venue's bookTicker for this book, which `take_run` keeps and checks as well.

    @property
    def ticker_u(self) -> int:
        """u of the last bookTicker (0: none yet)."""
        return self._slots[S_TK_U]

    def ticker(self) -> tuple[int, int, int, int]:
        """The last bookTicker's best bid, its lots, best ask, its lots (ticks; -1: none)."""
        slots = self._slots
        return slots[S_TK_BID], slots[S_TK_BID_QTY], slots[S_TK_ASK], slots[S_TK_ASK_QTY]

    def set_ticker(self, update_id: int, bid: int, bid_qty: int, ask: int, ask_qty: int) -> None:
        state = self._state
        state[S_TK_U] = update_id
        state[S_TK_BID] = bid
        state[S_TK_BID_QTY] = bid_qty
        state[S_TK_ASK] = ask
        state[S_TK_ASK_QTY] = ask_qty

    @property
    def checked_u(self) -> int:
        """The bookTicker u last compared with this book's top."""
        return self._slots[S_TK_CHECKED]

    @checked_u.setter
    def checked_u(self, update_id: int) -> None:
        self._state[S_TK_CHECKED] = update_id

    def ticker_due(self) -> bool:
        """The book has reached a bookTicker not yet compared with it, or a disagreement is
        being timed: the caller should compare the tops now."""
        slots = self._slots
        update_id = slots[S_TK_U]
        return (update_id > slots[S_TK_CHECKED] or not slots[S_TK_CALM]) and slots[
            S_LAST_U
        ] >= update_id

    def set_calm(self, calm: bool) -> None:
        """Whether no disagreement with the bookTicker is being timed: `take_run` compares
        the tops itself only then."""
        self._state[S_TK_CALM] = calm

    def settle(self, flags: int) -> int:
        """APPLIED or CROSSED_BOOK after an apply whose kernel flags were not 0."""
        return self._finish(flags)

    def raw_final_id(self) -> int:
        """u of the last frame read by `apply_raw` / `parse_raw`."""
        return self._slots[S_META + META_FINAL]

    def raw_event_time_ms(self) -> int:
        """E of the last frame read by `apply_raw` / `parse_raw` (0 if it had none)."""
        return self._slots[S_META + META_EVENT_TIME]

    def raw_diff(self) -> RawDiff:
        """The last frame read by `apply_raw` / `parse_raw`, over this book's scratch."""
        meta = self._state[S_META : S_META + META_SIZE].tolist()
        rows = self._rows
        return RawDiff(
            meta[META_FIRST],
            meta[META_FINAL],
            meta[META_PREV],
            rows[R_BID_TICKS],
            rows[R_BID_LOTS],
            meta[META_BIDS],
            rows[R_ASK_TICKS],
            rows[R_ASK_LOTS],
            meta[META_ASKS],
            meta[META_EVENT_TIME],
        )

    # ---- updates --------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove every level (the window stays where it is)."""
        self._qty[:] = 0
        self._state[S_BID] = -1
        self._state[S_ASK] = self.window
        self._over_bids.clear()
        self._over_asks.clear()
        self._set_irregular(False)

    def load_snapshot(self, bids: Levels, asks: Levels) -> None:
        """Replace the whole book. Raises ValueError on a bad level (the book is then
        unchanged)."""
        self.load_ticks(*self.parse_levels(bids, asks))

    def load_ticks(
        self,
        bid_ticks: np.ndarray,
        bid_lots: np.ndarray,
        ask_ticks: np.ndarray,
        ask_lots: np.ndarray,
    ) -> None:
        """Replace the whole book with levels given as ticks and lots."""
        self.clear()
        live_bids, live_asks = bid_ticks[bid_lots > 0], ask_ticks[ask_lots > 0]
        bid = int(live_bids.max()) if live_bids.size else -1
        ask = int(live_asks.min()) if live_asks.size else -1
        if bid >= 0 or ask >= 0:
            self._set_base(self._target_base(bid, ask))
        self.apply_ticks(bid_ticks, bid_lots, len(bid_ticks), ask_ticks, ask_lots, len(ask_ticks))

    def apply(self, bids: Levels, asks: Levels) -> None:
        """Apply absolute quantities ("0" deletes; deleting an absent level is fine).

        All or nothing: a bad level raises ValueError before anything changes.
        """
        if self.ingest(bids, asks) == INVALID:
            self._raise_bad(MALFORMED, bids, asks)

    def ingest(self, bids: Levels, asks: Levels) -> int:
        """`apply` that reports instead of raising: APPLIED, CROSSED_BOOK, or INVALID (a bad
        level; nothing applied). The hot path for levels as orjson decodes them."""
        try:
            buf = orjson.dumps((bids, asks))
        except TypeError:
            return self._ingest_slow(bids, asks)
        flags = ingest_(buf, self._qty, self._state, self._scratch)
        if flags == 0 and not self._irregular:
            return APPLIED
        if flags == CROSSED and not self._irregular:
            return CROSSED_BOOK
        if flags == TOO_MANY:
            return self._ingest_slow(bids, asks)
        if flags < 0:
            return INVALID
        return self._settle(flags)

    def _ingest_slow(self, bids: Levels, asks: Levels) -> int:
        status = self._parse_json(bids, asks)
        if status < 0:
            return INVALID
        return self._finish(
            apply_(self._qty, self._state, self._scratch, self._state[S_NB], self._state[S_NA])
        )

    def apply_ticks(
        self,
        bid_ticks: np.ndarray,
        bid_lots: np.ndarray,
        n_bids: int,
        ask_ticks: np.ndarray,
        ask_lots: np.ndarray,
        n_asks: int,
    ) -> int:
        """Apply absolute quantities given as int64 ticks and lots: APPLIED or CROSSED_BOOK.

        The hot path for diffs parsed by `parse_raw` / `parse_diff` (this book's scratch);
        other arrays are copied into the scratch first.
        """
        rows = self._rows
        if bid_ticks is not rows[R_BID_TICKS] or bid_lots is not rows[R_BID_LOTS]:
            self._stage(R_BID_TICKS, R_BID_LOTS, bid_ticks, bid_lots, n_bids)
        if ask_ticks is not rows[R_ASK_TICKS] or ask_lots is not rows[R_ASK_LOTS]:
            self._stage(R_ASK_TICKS, R_ASK_LOTS, ask_ticks, ask_lots, n_asks)
        return self._finish(apply_(self._qty, self._state, self._scratch, n_bids, n_asks))

    def _stage(
        self, tick_row: int, lot_row: int, ticks: np.ndarray, lots: np.ndarray, count: int
    ) -> None:
        if count > self._scratch.shape[1]:
            old = self._scratch
            self._grow(max(count, 2 * old.shape[1]))
            self._scratch[:, : old.shape[1]] = old  # keep the other side already staged
        self._scratch[tick_row, :count] = ticks[:count]
        self._scratch[lot_row, :count] = lots[:count]

    def _finish(self, flags: int) -> int:
        if flags == 0 and not self._irregular:
            return APPLIED
        if flags == CROSSED and not self._irregular:
            return CROSSED_BOOK
        return self._settle(flags)

    def _settle(self, flags: int) -> int:
        # The rare path: move spilled levels to the overflow, recentre if the touch has
        # drifted, and work out whether the overflow now holds a best level.
        if flags & SPILLED:
            self._spill(self._over_bids, R_SPILL_BID_TICKS, R_SPILL_BID_LOTS, S_SPILL_B)
            self._spill(self._over_asks, R_SPILL_ASK_TICKS, R_SPILL_ASK_LOTS, S_SPILL_A)
        if flags & (SPILLED | ATTENTION) or self._irregular:
            bid, ask = self.best_bid(), self.best_ask()
            if bid >= 0 or ask >= 0:
                target = self._target_base(bid, ask)
                if abs(target - self._base) > self.window // 8:
                    self._recenter(target)
            self._set_irregular(self._inner_overflow())
        return CROSSED_BOOK if self.is_crossed() else APPLIED

    def _spill(self, over: SortedDict, tick_row: int, lot_row: int, count_at: int) -> None:
        count = int(self._state[count_at])
        if not count:
            return
        ticks = self._scratch[tick_row, :count].tolist()
        lots = self._scratch[lot_row, :count].tolist()
        for tick, size in zip(ticks, lots, strict=True):
            if size:
                over[tick] = size
            else:
                over.pop(tick, None)

    def _inner_overflow(self) -> bool:
        # A bid above the window or an ask below it: better than anything in the window.
        return bool(
            (self._over_bids and self._over_bids.peekitem(-1)[0] >= self._base + self.window)
            or (self._over_asks and self._over_asks.peekitem(0)[0] < self._base)
        )

    def _target_base(self, bid: int, ask: int) -> int:
        # Centre on the mid; with a spread wider than half the window (or one side empty),
        # centre on the bid (else the ask): the touch is what gets updated most.
        if bid >= 0 and ask >= 0 and abs(ask - bid) < self.window // 2:
            centre = (bid + ask) // 2
        else:
            centre = bid if bid >= 0 else ask
        return centre - self.window // 2

    def _set_base(self, base: int) -> None:
        self._base = base
        self._state[S_BASE] = base

    def _recenter(self, base: int) -> None:
        window = self.window
        for side, over in ((BIDS, self._over_bids), (ASKS, self._over_asks)):
            row = self._qty[side]
            idx = np.flatnonzero(row)
            ticks = (idx + self._base).tolist()
            lots = row[idx].tolist()
            row[idx] = 0
            everything = dict(zip(ticks, lots, strict=True))
            everything.update(over)
            over.clear()
            inside_ticks, inside_lots = [], []
            for tick, size in everything.items():
                if base <= tick < base + window:
                    inside_ticks.append(tick - base)
                    inside_lots.append(size)
                else:
                    over[tick] = size
            row[np.array(inside_ticks, np.int64)] = np.array(inside_lots, np.int64)
        self._set_base(base)
        live = np.flatnonzero(self._bids)
        self._state[S_BID] = int(live[-1]) if live.size else -1
        live = np.flatnonzero(self._asks)
        self._state[S_ASK] = int(live[0]) if live.size else window

    # ---- queries --------------------------------------------------------------------------

    def best_bid(self) -> int:
        """Best bid in ticks, -1 if the side is empty."""
        i = self._slots[S_BID]  # a Python int without a numpy scalar between
        if not self._over_bids:
            return self._base + i if i >= 0 else -1
        best = self._base + i if i >= 0 else -1
        return max(best, self._over_bids.peekitem(-1)[0])  # type: ignore[no-any-return]

    def best_ask(self) -> int:
        """Best ask in ticks, -1 if the side is empty."""
        i = self._slots[S_ASK]
        if not self._over_asks:
            return self._base + i if i < self.window else -1
        best = self._base + i if i < self.window else -1
        far = self._over_asks.peekitem(0)[0]
        return far if best < 0 else min(best, far)  # type: ignore[no-any-return]

    def qty_at(self, side: int, ticks: int) -> int:
        """Lots resting at `ticks` on `side` (BIDS or ASKS); 0 for an empty level."""
        i = ticks - self._base
        if 0 <= i < self.window:
            return self._qty.item(side, i)
        over = self._over_bids if side == BIDS else self._over_asks
        return int(over.get(ticks, 0))

    def is_crossed(self) -> bool:
        """Both sides non-empty and best bid >= best ask."""
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
        """Fill caller-owned int64 arrays with the best n levels per side, best first;
        returns (n_bids, n_asks). Allocates nothing unless an overflow level is among them."""
        return (
            self._top(BIDS, self._over_bids, n, bid_px, bid_qty),
            self._top(ASKS, self._over_asks, n, ask_px, ask_qty),
        )

    def _top(self, side: int, over: SortedDict, n: int, px: np.ndarray, qty: np.ndarray) -> int:
        if not self._irregular:
            filled = int(top_(self._qty, self._state, side, n, px, qty, 0))
            if filled >= n or not over:
                return filled
        # Best first: overflow levels better than the window, the window, then worse ones.
        low, high = self._base, self._base + self.window - 1
        if self._irregular:
            if side == BIDS:
                better = over.irange(minimum=high + 1, reverse=True)
            else:
                better = over.irange(maximum=low - 1)
            filled = 0
            for tick in better:
                if filled >= n:
                    return filled
                px[filled], qty[filled] = tick, over[tick]
                filled += 1
            filled = int(top_(self._qty, self._state, side, n, px, qty, filled))
        if filled < n:
            if side == BIDS:
                worse = over.irange(maximum=low - 1, reverse=True)
            else:
                worse = over.irange(minimum=high + 1)
            for tick in worse:
                if filled >= n:
                    break
                px[filled], qty[filled] = tick, over[tick]
                filled += 1
        return filled

    def levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Every level (ticks, lots) of both sides, best first."""
        sides: list[list[tuple[int, int]]] = []
        for side, over in ((BIDS, self._over_bids), (ASKS, self._over_asks)):
            row = self._qty[side]
            idx = np.flatnonzero(row)
            found = list(zip((idx + self._base).tolist(), row[idx].tolist(), strict=True))
            found.extend(over.items())
            found.sort(reverse=side == BIDS)
            sides.append(found)
        return sides[0], sides[1]

    def _touch(self) -> tuple[int, int, int, int]:
        out = self._out
        n_bids, n_asks = self.top(1, out[0], out[1], out[2], out[3])
        if not n_bids or not n_asks:
            return -1, 0, -1, 0
        return int(out[0][0]), int(out[1][0]), int(out[2][0]), int(out[3][0])

    def microprice(self) -> float:
        """Size-weighted mid of the touch, in ticks (nan if a side is empty): leans towards
        the side with less size, where the price is more likely to go."""
        bid, bid_lots, ask, ask_lots = self._touch()
        if bid < 0:
            return math.nan
        return (bid * ask_lots + ask * bid_lots) / (bid_lots + ask_lots)

    def imbalance(self, n: int) -> float:
        """(bid lots - ask lots) / total over the best n levels per side, in [-1, 1]; 0 for
        an empty book."""
        if n <= 0:
            return 0.0
        if self._out[0].shape[0] < n:
            self._out = [np.zeros(n, np.int64) for _ in range(4)]
        out = self._out
        n_bids, n_asks = self.top(n, out[0], out[1], out[2], out[3])
        bids, asks = int(out[1][:n_bids].sum()), int(out[3][:n_asks].sum())
        return (bids - asks) / (bids + asks) if bids + asks else 0.0

    def depth_within(self, bps: float) -> tuple[int, int]:
        """Lots on each side priced within `bps` basis points of the mid (inclusive);
        (0, 0) unless both sides have levels."""
        bid, ask = self.best_bid(), self.best_ask()
        if bid < 0 or ask < 0:
            return 0, 0
        mid = (bid + ask) / 2
        reach = mid * bps / 10_000
        low = math.ceil(mid - reach)  # lowest bid tick counted
        high = math.floor(mid + reach)  # highest ask tick counted
        base = self._base
        bids = int(sum_between_(self._bids, low - base, self.window - 1))
        asks = int(sum_between_(self._asks, 0, high - base))
        bids += sum(self._over_bids[t] for t in self._over_bids.irange(minimum=low))
        asks += sum(self._over_asks[t] for t in self._over_asks.irange(maximum=high))
        return bids, asks
