"""A real shared-memory snapshot region filled with a fixed, engine-like state."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from hftui.ipc import SnapshotWriter, segment_name
from hftui.protocol import BOOK_DEPTH, TRADE_SLOTS, FeedState, Mode

FROZEN_NS = 1_795_000_000_000_000_000  # the tests' wall clock: 2026-11-18T11:06:40Z

# symbol, price decimals, qty decimals, tick units, best bid units, lot units
_SYMBOLS = (
    ("BTCUSDT", 2, 3, 10, 6_400_010, 1),
    ("ETHUSDT", 2, 3, 1, 320_001, 1),
)


def fill_symbol(
    writer: SnapshotWriter,
    index: int,
    *,
    synced: bool = True,
    age_s: float = 0.05,
    last_update_id: int = 123_456,
    trades: int = 70,
    feed_state: FeedState | None = None,
) -> None:
    """Write one symbol block as the engine's publisher does.

    Args:
        writer: the region.
        index: 0 for BTCUSDT (tick 0.10 around 64000.10), 1 for ETHUSDT (tick 0.01).
        synced: False publishes an empty book, as while the depth sync is under way.
        age_s: how long before `FROZEN_NS` the last frame arrived.
        last_update_id: the book's update id.
        trades: trades ever published (the ring keeps the last 64); even ones were bought
            by the taker, odd ones sold.
        feed_state: defaults to LIVE when synced, SYNCING otherwise.
    """
    symbol, pd, qd, tick, best_bid, lot = _SYMBOLS[index]
    writer.begin_symbol(index)
    s = writer.symbol(index)
    s["symbol"] = symbol.encode()
    s["synced"] = 1 if synced else 0
    if feed_state is None:
        feed_state = FeedState.LIVE if synced else FeedState.SYNCING
    s["feed_state"] = feed_state
    s["price_decimals"] = pd
    s["qty_decimals"] = qd
    s["tick_units"] = tick
    s["last_update_id"] = last_update_id
    s["recv_ns"] = FROZEN_NS - int(age_s * 1e9)
    s["event_time_ms"] = FROZEN_NS // 1_000_000
    n = BOOK_DEPTH if synced else 0
    s["n_bids"] = n
    s["n_asks"] = n
    for k in range(BOOK_DEPTH):
        s["bid_px"][k] = best_bid - k * tick
        s["ask_px"][k] = best_bid + (k + 1) * tick
        s["bid_qty"][k] = (k * 37 % 11 + 1) * 125 * lot
        s["ask_qty"][k] = (k * 53 % 13 + 1) * 100 * lot
    s["best_bid"] = best_bid if n else -1
    s["best_ask"] = best_bid + tick if n else -1
    s["msgs_total"] = 5000
    s["trade_count"] = trades  # by default more than the ring holds: the oldest were overwritten
    for k in range(trades):
        slot = k % TRADE_SLOTS
        s["trade_px"][slot] = best_bid + (k % 3) * tick
        s["trade_qty"][slot] = (k % 7 + 1) * 10 * lot
        s["trade_time_ms"][slot] = FROZEN_NS // 1_000_000 - (trades - k) * 250
        s["trade_buyer_maker"][slot] = k % 2
    writer.end_symbol(index)


def fill_header(
    writer: SnapshotWriter,
    *,
    heartbeat_age_s: float = 0.01,
    mode: Mode = Mode.OBSERVE,
    killed: bool = False,
    stopping: bool = False,
    n_symbols: int = 2,
    ws_connected: bool = True,
    stream_url: str = "ws://127.0.0.1:8080",
    killed_ns: int = 0,
    kill_reason: str = "",
    kill_flatten: bool = False,
    has_keys: bool = False,
    open_orders: int = 0,
    refusals: int = 0,
) -> None:
    """Write the header as the engine's publisher does, its heartbeat `heartbeat_age_s` old.

    An empty `stream_url` is an engine still starting its venue (no endpoints yet).
    `killed_ns`, `kill_reason` and `kill_flatten` describe the latch, as the engine's kill
    switch state does (all zero when armed).
    """
    writer.begin_header()
    h = writer.header
    h["engine_pid"] = 4242
    h["started_ns"] = FROZEN_NS - 60 * 10**9
    h["heartbeat_ns"] = FROZEN_NS - int(heartbeat_age_s * 1e9)
    h["mode"] = int(mode)
    h["killed"] = 1 if killed else 0
    h["stopping"] = 1 if stopping else 0
    h["ws_connected"] = 1 if ws_connected else 0
    h["n_symbols"] = n_symbols
    h["msgs_total"] = 10_000
    h["msgs_per_s"] = 150.0
    h["venue"] = b"local"
    h["venue_url"] = b"http://127.0.0.1:8080"
    h["stream_url"] = stream_url.encode()
    h["killed_ns"] = killed_ns
    h["kill_reason"] = kill_reason.encode()
    h["kill_flatten"] = 1 if kill_flatten else 0
    h["has_keys"] = 1 if has_keys else 0
    h["open_orders"] = open_orders
    h["refusals"] = refusals
    writer.end_header()


@contextmanager
def frozen_region(published: bool = True) -> Iterator[SnapshotWriter]:
    """A real region, unlinked afterwards.

    Args:
        published: write both symbols synced and a fresh heartbeat, as a running engine
            would; False leaves the region as a just-started engine has it (all zero).
    """
    writer = SnapshotWriter(f"{segment_name('test', os.getpid())}_{uuid.uuid4().hex[:8]}")
    try:
        if published:
            fill_header(writer)
            for index in range(len(_SYMBOLS)):
                fill_symbol(writer, index)
        yield writer
    finally:
        writer.close()
