"""The TUI's reader of engine state: one pass over shared memory per frame.

`EngineLink.poll()` copies each seqlocked block once and turns it into immutable view
models of pre-formatted strings, so widgets do no number formatting when they repaint.
It never writes anything and never blocks on the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hftui.ipc import RegionError, SnapshotReader, TornReadError
from hftui.protocol import TRADE_SLOTS, FeedState, Mode, decode_text, format_units

if TYPE_CHECKING:
    import numpy as np

    from hftui.instance import InstanceInfo

__all__ = [
    "STALE_AFTER_S",
    "EngineLink",
    "EngineView",
    "LadderLevel",
    "SymbolView",
    "TradeRow",
]

STALE_AFTER_S: Final = 2.0  # data older than this is drawn greyed out
_HEARTBEAT_DEAD_S: Final = 2.0


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
    symbol: str
    synced: bool
    feed_state: FeedState
    last_update_id: int
    age_s: float | None  # since the last frame for this symbol; None if never
    bids: tuple[LadderLevel, ...]
    asks: tuple[LadderLevel, ...]  # best first
    best_bid: str
    best_ask: str
    spread: str
    mid: str
    trades: tuple[TradeRow, ...]  # newest first
    gaps: int
    resyncs: int
    msgs_total: int

    @property
    def stale(self) -> bool:
        return not self.synced or self.age_s is None or self.age_s > STALE_AFTER_S


@dataclass(frozen=True, slots=True)
class EngineView:
    alive: bool
    status: str  # "up", "starting", "stopping", "not responding", "stopped"
    pid: int
    venue: str
    venue_url: str
    mode: Mode
    killed: bool
    ws_connected: bool
    msgs_per_s: float
    bad_frames: int
    reconnects: int
    heartbeat_age_s: float
    symbols: tuple[SymbolView, ...]


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


def _mid(bid: int, ask: int, decimals: int) -> str:
    # The mid may fall between two units: one more decimal keeps it exact.
    text = format_units((bid + ask) * 5, decimals + 1)
    return text[:-1] if text.endswith("0") else text


def symbol_view(record: np.void, now_ns: int) -> SymbolView:
    """Build the view model of one symbol block."""
    pd, qd = int(record["price_decimals"]), int(record["qty_decimals"])
    nb, na = int(record["n_bids"]), int(record["n_asks"])
    bid, ask = int(record["best_bid"]), int(record["best_ask"])
    recv = int(record["recv_ns"])
    count = int(record["trade_count"])
    trades = []
    for k in range(count - 1, max(-1, count - 1 - TRADE_SLOTS), -1):
        slot = k % TRADE_SLOTS
        trades.append(
            TradeRow(
                _clock_text(int(record["trade_time_ms"][slot])),
                "SELL" if record["trade_buyer_maker"][slot] else "BUY",
                format_units(int(record["trade_px"][slot]), pd),
                format_units(int(record["trade_qty"][slot]), qd),
            )
        )
    both = bid >= 0 and ask >= 0 and nb and na
    return SymbolView(
        symbol=decode_text(record["symbol"]),
        synced=bool(record["synced"]),
        feed_state=FeedState(int(record["feed_state"])),
        last_update_id=int(record["last_update_id"]),
        age_s=(now_ns - recv) / 1e9 if recv else None,
        bids=_levels(record["bid_px"], record["bid_qty"], nb, pd, qd),
        asks=_levels(record["ask_px"], record["ask_qty"], na, pd, qd),
        best_bid=format_units(bid, pd) if nb else "-",
        best_ask=format_units(ask, pd) if na else "-",
        spread=format_units(ask - bid, pd) if both else "-",
        mid=_mid(bid, ask, pd) if both else "-",
        trades=tuple(trades),
        gaps=int(record["gaps"]),
        resyncs=int(record["resyncs"]),
        msgs_total=int(record["msgs_total"]),
    )


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
        self._last: EngineView | None = None

    @classmethod
    def open(cls, info: InstanceInfo) -> EngineLink:
        """Attach to the engine an instance file describes.

        Raises:
            RegionError: if its segment is gone or not an hftui region.
        """
        return cls(SnapshotReader(info.shm), info.pid)

    def poll(self) -> EngineView | None:
        """A fresh view, or the previous one if the engine was mid-write for too long."""
        try:
            header = self.reader.header()
            now = self.clock_ns()
            symbols = tuple(
                symbol_view(self.reader.symbol(i), now) for i in range(int(header["n_symbols"]))
            )
        except (TornReadError, RegionError):
            return self._last
        heartbeat_age = (now - int(header["heartbeat_ns"])) / 1e9
        stopping = bool(header["stopping"])
        alive = heartbeat_age < _HEARTBEAT_DEAD_S and not stopping
        if stopping:
            status = "stopped" if heartbeat_age >= _HEARTBEAT_DEAD_S else "stopping"
        elif not alive:
            status = "not responding"
        elif not decode_text(header["venue_url"]) and header["venue"] == b"local":
            status = "starting"
        else:
            status = "up"
        self._last = EngineView(
            alive=alive,
            status=status,
            pid=int(header["engine_pid"]),
            venue=decode_text(header["venue"]),
            venue_url=decode_text(header["venue_url"]),
            mode=Mode(int(header["mode"])),
            killed=bool(header["killed"]),
            ws_connected=bool(header["ws_connected"]),
            msgs_per_s=float(header["msgs_per_s"]),
            bad_frames=int(header["bad_frames"]),
            reconnects=int(header["reconnects"]),
            heartbeat_age_s=heartbeat_age,
            symbols=symbols,
        )
        return self._last

    def close(self) -> None:
        self.reader.close()
