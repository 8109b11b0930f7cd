"""The TUI's reader of engine state: one pass over shared memory per frame.

`EngineLink.poll()` copies the header and every symbol block that changed since the last
poll, and turns them into immutable view models of pre-formatted strings, so widgets do no
number formatting when they repaint. A symbol block whose sequence number has not moved is
not copied or formatted again: its previous view is reused with only its age brought up to
date. The link never writes anything and never blocks on the engine.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hftui.ipc import RegionError, SnapshotReader, TornReadError
from hftui.protocol import MAX_SYMBOLS, TRADE_SLOTS, FeedState, Mode, decode_text, format_units

if TYPE_CHECKING:
    import numpy as np

    from hftui.instance import InstanceInfo

__all__ = [
    "HEARTBEAT_DEAD_S",
    "STALE_AFTER_S",
    "EngineLink",
    "EngineStatus",
    "EngineView",
    "LadderLevel",
    "SymbolView",
    "TradeRow",
    "age_text",
]

STALE_AFTER_S: Final = 2.0  # book data older than this is drawn greyed out
HEARTBEAT_DEAD_S: Final = 2.0  # an engine silent for longer than this is not responding


class EngineStatus(enum.StrEnum):
    """What the TUI can tell about the engine from its header."""

    WAITING = "waiting"  # nothing published yet
    STARTING = "starting"  # alive, venue endpoints not known yet
    UP = "up"
    STOPPING = "stopping"  # said it is shutting down, still publishing
    STOPPED = "stopped"  # said it was shutting down, then went quiet
    NOT_RESPONDING = "not responding"  # went quiet without saying so


@dataclass(frozen=True, slots=True)
class LadderLevel:
    price: str
    qty: str
    cumulative: str
    cum_units: int  # for the depth bar


@dataclass(frozen=True, slots=True)
class TradeRow:
    time: str  # HH:MM:SS.mmm UTC
    side: str  # BUY or SELL, from the taker's side
    price: str
    qty: str


@dataclass(frozen=True, slots=True)
class SymbolView:
    """One symbol's book top and trades, formatted; equal `seq` means the same content."""

    symbol: str
    seq: int  # sequence number of the block this was built from
    synced: bool
    feed_state: FeedState
    last_update_id: int
    age_s: float | None  # since the last frame for this symbol; None if never
    age: str  # `age_s` as shown: coarse, so that a quiet book is not redrawn every frame
    bids: tuple[LadderLevel, ...]  # best first
    asks: tuple[LadderLevel, ...]  # best first
    best_bid: str
    best_ask: str
    spread: str
    mid: str
    price_width: int  # widest formatted price, size and cumulative size among the levels
    qty_width: int
    cum_width: int
    trade_count: int  # trades ever published: unchanged means the same `trades`
    trades: tuple[TradeRow, ...]  # newest first
    trade_price_width: int
    trade_qty_width: int
    gaps: int
    resyncs: int
    msgs_total: int

    @property
    def stale(self) -> bool:
        """Nothing to trust on screen: not synced, never updated, or too old."""
        return not self.synced or self.age_s is None or self.age_s > STALE_AFTER_S


@dataclass(frozen=True, slots=True)
class EngineView:
    alive: bool
    status: EngineStatus
    pid: int
    venue: str
    venue_url: str
    mode: Mode
    killed: bool
    ws_connected: bool
    msgs_per_s: float
    bad_frames: int
    reconnects: int
    heartbeat_age_s: float | None  # None before the first heartbeat
    uptime: str  # since the engine started, e.g. "1h02m"; "" if unknown
    symbols: tuple[SymbolView, ...]


def age_text(seconds: float | None) -> str:
    """A duration as the TUI shows ages: "<1s", "42s", "3m05s", "2h10m", or "never".

    Whole seconds on purpose: the text of a fresh feed stays "<1s", so its widgets repaint
    only when the data itself changes.
    """
    if seconds is None:
        return "never"
    if seconds < 1.0:
        return "<1s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _clock_text(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}"


def _levels(px: np.ndarray, qty: np.ndarray, n: int, pd: int, qd: int) -> tuple[LadderLevel, ...]:
    levels = []
    cumulative = 0
    for k in range(n):
        size = int(qty[k])
        cumulative += size
        levels.append(
            LadderLevel(
                format_units(int(px[k]), pd),
                format_units(size, qd),
                format_units(cumulative, qd),
                cumulative,
            )
        )
    return tuple(levels)


def _trades(record: np.void, count: int, pd: int, qd: int) -> tuple[TradeRow, ...]:
    rows = []
    for k in range(count - 1, max(-1, count - 1 - TRADE_SLOTS), -1):
        slot = k % TRADE_SLOTS
        rows.append(
            TradeRow(
                _clock_text(int(record["trade_time_ms"][slot])),
                "SELL" if record["trade_buyer_maker"][slot] else "BUY",  # the taker sold
                format_units(int(record["trade_px"][slot]), pd),
                format_units(int(record["trade_qty"][slot]), qd),
            )
        )
    return tuple(rows)


def _mid(bid: int, ask: int, decimals: int) -> str:
    # The mid may fall between two units: one more decimal keeps it exact.
    text = format_units((bid + ask) * 5, decimals + 1)
    return text[:-1] if text.endswith("0") else text


def _widest(texts: list[str], floor: int) -> int:
    return max(floor, *map(len, texts)) if texts else floor


def symbol_view(
    record: np.void, seq: int, now_ns: int, previous: SymbolView | None = None
) -> SymbolView:
    """Build the view model of one symbol block.

    Args:
        record: a consistent copy of the block (`SnapshotReader.symbol`).
        seq: the block's sequence number read before the copy.
        now_ns: wall clock now, for the data age.
        previous: the last view of this symbol; its trades are reused if none arrived.

    Returns:
        The view, with every number already formatted.
    """
    pd, qd = int(record["price_decimals"]), int(record["qty_decimals"])
    nb, na = int(record["n_bids"]), int(record["n_asks"])
    bid, ask = int(record["best_bid"]), int(record["best_ask"])
    count = int(record["trade_count"])
    if previous is not None and previous.trade_count == count and count:
        trades = previous.trades
    else:
        trades = _trades(record, count, pd, qd)
    bids = _levels(record["bid_px"], record["bid_qty"], nb, pd, qd)
    asks = _levels(record["ask_px"], record["ask_qty"], na, pd, qd)
    levels = bids + asks
    both = bid >= 0 and ask >= 0 and nb and na
    recv = int(record["recv_ns"])
    age = (now_ns - recv) / 1e9 if recv else None
    return SymbolView(
        symbol=decode_text(record["symbol"]),
        seq=seq,
        synced=bool(record["synced"]),
        feed_state=FeedState(int(record["feed_state"])),
        last_update_id=int(record["last_update_id"]),
        age_s=age,
        age=age_text(age),
        bids=bids,
        asks=asks,
        best_bid=format_units(bid, pd) if nb else "-",
        best_ask=format_units(ask, pd) if na else "-",
        spread=format_units(ask - bid, pd) if both else "-",
        mid=_mid(bid, ask, pd) if both else "-",
        price_width=_widest([level.price for level in levels], 5),
        qty_width=_widest([level.qty for level in levels], 4),
        cum_width=_widest([level.cumulative for level in levels], 3),
        trade_count=count,
        trades=trades,
        trade_price_width=_widest([trade.price for trade in trades], 5),
        trade_qty_width=_widest([trade.qty for trade in trades], 3),
        gaps=int(record["gaps"]),
        resyncs=int(record["resyncs"]),
        msgs_total=int(record["msgs_total"]),
    )


def _aged(view: SymbolView, now_ns: int, recv_ns: int) -> SymbolView:
    age = (now_ns - recv_ns) / 1e9 if recv_ns else None
    return dataclasses.replace(view, age_s=age, age=age_text(age))


class EngineLink:
    """Reads one engine's snapshot region. Owned by the TUI app; not thread-safe."""

    def __init__(
        self,
        reader: SnapshotReader,
        engine_pid: int,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.reader = reader
        self.engine_pid = engine_pid
        self.clock_ns = clock_ns
        # Per block: the view built from it and its frame's receive time.
        self._cache: list[tuple[SymbolView, int] | None] = [None] * MAX_SYMBOLS
        self._last: EngineView | None = None

    @classmethod
    def open(cls, info: InstanceInfo) -> EngineLink:
        """Attach to the engine an instance file describes.

        Raises:
            RegionError: if its segment is gone or not an hftui region.
        """
        return cls(SnapshotReader(info.shm), info.pid)

    def _symbol(self, index: int, now_ns: int) -> SymbolView:
        seq = self.reader.symbol_seq(index)
        cached = self._cache[index]
        if cached is not None and cached[0].seq == seq and not seq & 1:
            return _aged(cached[0], now_ns, cached[1])
        # Keyed by the sequence number read *before* the copy: if the engine rewrote the
        # block in between, the copy is newer and the next poll simply reads it again.
        record = self.reader.symbol(index)
        view = symbol_view(record, seq, now_ns, cached[0] if cached else None)
        self._cache[index] = (view, int(record["recv_ns"]))
        return view

    def poll(self) -> EngineView:
        """The engine's state now.

        Returns:
            A fresh view; the previous one if the engine stayed mid-write for too long;
            a `WAITING` view if nothing was ever read.
        """
        try:
            header = self.reader.header()
            now = self.clock_ns()
            n_symbols = min(int(header["n_symbols"]), MAX_SYMBOLS)
            symbols = tuple(self._symbol(i, now) for i in range(n_symbols))
        except (TornReadError, RegionError):
            return self._last if self._last is not None else self._waiting()
        heartbeat_ns = int(header["heartbeat_ns"])
        if heartbeat_ns == 0:
            return self._waiting()
        heartbeat_age = (now - heartbeat_ns) / 1e9
        quiet = heartbeat_age >= HEARTBEAT_DEAD_S
        if header["stopping"]:
            status = EngineStatus.STOPPED if quiet else EngineStatus.STOPPING
        elif quiet:
            status = EngineStatus.NOT_RESPONDING
        elif not header["stream_url"]:
            status = EngineStatus.STARTING
        else:
            status = EngineStatus.UP
        started = int(header["started_ns"])
        self._last = EngineView(
            alive=status in (EngineStatus.UP, EngineStatus.STARTING),
            status=status,
            pid=int(header["engine_pid"]) or self.engine_pid,
            venue=decode_text(header["venue"]),
            venue_url=decode_text(header["venue_url"]),
            mode=Mode(int(header["mode"])),
            killed=bool(header["killed"]),
            ws_connected=bool(header["ws_connected"]),
            msgs_per_s=float(header["msgs_per_s"]),
            bad_frames=int(header["bad_frames"]),
            reconnects=int(header["reconnects"]),
            heartbeat_age_s=heartbeat_age,
            uptime=age_text((now - started) / 1e9) if started else "",
            symbols=symbols,
        )
        return self._last

    def _waiting(self) -> EngineView:
        return EngineView(
            alive=False,
            status=EngineStatus.WAITING,
            pid=self.engine_pid,
            venue="",
            venue_url="",
            mode=Mode.OBSERVE,
            killed=False,
            ws_connected=False,
            msgs_per_s=0.0,
            bad_frames=0,
            reconnects=0,
            heartbeat_age_s=None,
            uptime="",
            symbols=(),
        )

    def close(self) -> None:
        self.reader.close()
