"""Copies engine state into the shared-memory snapshot region at a fixed rate.

The publisher runs on the engine's loop between frames, so it reads `MarketData` state
without locks; each block it writes is bracketed by the block's seqlock.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

import numpy as np

from hftui.engine.control import Controller
from hftui.engine.execution import Execution
from hftui.engine.kill_switch import KillSwitch
from hftui.engine.market_data import MarketData
from hftui.engine.orders import Order
from hftui.engine.reconcile import Reconciler
from hftui.engine.strategy_host import StrategyHost
from hftui.ipc import SnapshotWriter
from hftui.protocol import (
    BOOK_DEPTH,
    MAX_SYMBOLS,
    ORDER_SLOTS,
    STRATEGY_SLOTS,
    STRATEGY_STATES,
    SYMBOL_DTYPE,
    Mode,
)

if TYPE_CHECKING:
    from hftui.engine.journal import Journal
    from hftui.engine.metrics_exporter import MetricsExporter

__all__ = ["Publisher"]

_BREAKER_STATES: Final = ("closed", "half-open", "open")  # HEADER_DTYPE.rest_breaker

_RATE_ALPHA: Final = 0.3  # smoothing of the msgs/s figure


class Publisher:
    """Owns the snapshot writer; nothing else writes shared memory."""

    def __init__(self, writer: SnapshotWriter, market: MarketData | None = None) -> None:
        self.writer = writer
        self.market = market
        self._versions: list[int] = []
        self._last_ns = 0
        self._last_msgs = 0
        self._rate = 0.0
        # Scratch for book tops in ticks/lots, reused every publish.
        self._bid_px = np.zeros(BOOK_DEPTH, np.int64)
        self._bid_qty = np.zeros(BOOK_DEPTH, np.int64)
        self._ask_px = np.zeros(BOOK_DEPTH, np.int64)
        self._ask_qty = np.zeros(BOOK_DEPTH, np.int64)
        self.kill_switch: KillSwitch | None = None
        self.execution: Execution | None = None
        self.controller: Controller | None = None  # for the last kill's timings
        self.strategies: StrategyHost | None = None
        self.reconciler: Reconciler | None = None
        self.journal: Journal | None = None  # for component health
        self.exporter: MetricsExporter | None = None
        self._execution_version = -1
        self._layout = -1  # the market's symbol layout last written (see MarketData.layout)
        self._blank = np.zeros((), SYMBOL_DTYPE)
        self._marks: dict[str, float] = {}  # valuation prices in ticks (Execution.valuations)

    def publish_identity(
        self, pid: int, started_ns: int, venue: str, venue_url: str, stream_url: str, mode: Mode
    ) -> None:
        w = self.writer
        w.begin_header()
        h = w.header
        h["engine_pid"] = pid
        h["started_ns"] = started_ns
        h["heartbeat_ns"] = time.time_ns()
        h["venue"] = venue.encode()[:32]
        h["venue_url"] = venue_url.encode()[:128]
        h["stream_url"] = stream_url.encode()[:128]
        h["mode"] = int(mode)
        w.end_header()

    def set_stopping(self) -> None:
        w = self.writer
        w.begin_header()
        w.header["stopping"] = 1
        w.header["heartbeat_ns"] = time.time_ns()
        w.end_header()

    def attach(self, market: MarketData) -> None:
        self.market = market
        self._write_layout(market)

    def _write_layout(self, market: MarketData) -> None:
        # Symbols added or dropped at run time move blocks: every block is written afresh.
        self._layout = market.layout
        self._versions = [-1] * MAX_SYMBOLS
        w = self.writer
        w.begin_header()
        w.header["n_symbols"] = len(market.feeds)
        w.end_header()
        for index in range(MAX_SYMBOLS):
            w.begin_symbol(index)
            block = w.symbol(index)
            block[...] = self._blank
            block["symbol"] = (
                market.feeds[index].symbol.encode() if index < len(market.feeds) else b""
            )
            block["best_bid"] = -1
            block["best_ask"] = -1
            w.end_symbol(index)

    def publish(self) -> None:
        """Write the header (heartbeat, counters) and every symbol that changed."""
        now = time.time_ns()
        market = self.market
        w = self.writer
        if market is not None:
            if self._last_ns:
                elapsed = (now - self._last_ns) / 1e9
                if elapsed >= 0.25:
                    rate = (market.msgs_total - self._last_msgs) / elapsed
                    self._rate += _RATE_ALPHA * (rate - self._rate)
                    self._last_ns, self._last_msgs = now, market.msgs_total
            else:
                self._last_ns, self._last_msgs = now, market.msgs_total
        w.begin_header()
        h = w.header
        h["heartbeat_ns"] = now
        if market is not None:
            h["ws_connected"] = 1 if market.connected() else 0
            h["reconnects"] = market.reconnects
            h["msgs_total"] = market.msgs_total
            h["bytes_total"] = market.bytes_total
            h["msgs_per_s"] = self._rate
            h["bad_frames"] = market.bad_frames
        self._write_trading(h)
        self._write_health(h)
        w.end_header()
        ex = self.execution
        if ex is not None and ex.version != self._execution_version:
            self._execution_version = ex.version
            self._write_orders(ex)
            self._versions = [-1] * len(self._versions)  # positions live in the symbol blocks
        if self.strategies is not None and ex is not None:
            self._write_strategies(self.strategies, ex)
        if market is None:
            return
        if market.layout != self._layout:
            self._write_layout(market)
        states = market.feed_states()
        for feed, state in zip(market.feeds, states, strict=True):
            slot = w.symbol(feed.index)
            if feed.version == self._versions[feed.index] and slot["feed_state"] == state:
                continue
            self._versions[feed.index] = feed.version
            self._write_symbol(market, feed.index, state)

    def _write_trading(self, h: np.ndarray) -> None:
        kill = self.kill_switch
        if kill is not None:
            h["killed"] = 1 if kill.killed else 0
            h["killed_ns"] = kill.state.at_ns
            h["kill_flatten"] = 1 if kill.state.flatten else 0
            h["kill_reason"] = kill.state.reason.encode()[:64]
        if self.reconciler is not None:
            h["reconciled_ns"] = self.reconciler.last_run_ns
            h["reconcile_runs"] = self.reconciler.runs
            h["reconcile_mismatches"] = self.reconciler.mismatches_total
        if self.controller is not None:
            h["has_keys"] = 1 if self.controller.has_keys else 0
            report = self.controller.last_kill
            h["kill_sent_ns"] = report.cancels_sent_ns
            h["kill_zero_open_ns"] = report.zero_open_ns
            h["kill_left_open"] = report.left_open
        ex = self.execution
        if ex is None:
            return
        h["mode"] = int(ex.mode)
        h["open_orders"] = ex.exposure.open_orders_total
        h["orders_sent"] = ex.orders_sent
        h["refusals"] = ex.refusals
        h["would_send"] = ex.would_send
        self._marks = ex.valuations()  # once per publish, for the header and every symbol
        pnl = ex.account.pnl(ex.mode, self._marks)
        h["realized"] = pnl.realized
        h["unrealized"] = pnl.unrealized
        h["fees"] = pnl.fees
        h["funding"] = pnl.funding
        h["daily_pnl"] = pnl.daily
        usdt = ex.account.balances.get("USDT")
        if usdt is not None:
            h["wallet_balance"] = float(usdt.wallet)
            h["available_balance"] = -1.0 if usdt.available is None else float(usdt.available)
            h["balance_ms"] = usdt.updated_ms
        if ex.client is not None:
            usage = ex.client.budget.usage()
            h["weight_used"] = max(usage.values(), default=0.0)

    def _write_health(self, h: np.ndarray) -> None:
        # What `hftui status` judges each component by (see hftui/status_components.py).
        journal, exporter, market, ex = self.journal, self.exporter, self.market, self.execution
        if journal is not None:
            h["journal_pending"] = journal.pending()
            h["journal_failing"] = 1 if journal.error else 0
            h["journal_commit_ns"] = journal.committed_ns
        h["metrics_port"] = exporter.port if exporter is not None and exporter.serving else 0
        if market is not None:
            h["rest_breaker"] = _BREAKER_STATES.index(market.snapshot_breaker.state)
        if ex is None:
            return
        stream = ex.user_stream
        h["user_stream_up"] = 1 if stream is not None and stream.connected else 0
        h["user_event_ns"] = stream.last_event_ns if stream is not None else 0
        ban = ex.client.budget.ban_remaining() if ex.client is not None else 0.0
        h["venue_ban_until_ns"] = time.time_ns() + int(ban * 1e9) if ban > 0 else 0
        h["venue_error_ns"] = ex.venue_error_ns
        h["venue_error"] = ex.venue_error.encode()[:96]
        h["t2o_p50_ns"], h["t2o_p99_ns"], h["t2o_samples"] = ex.timings.recent_quantiles()

    def _write_orders(self, ex: Execution) -> None:
        w = self.writer
        w.begin_orders()
        block = w.orders
        rows = block["rows"]
        orders = ex.tracker.open_orders(None)
        block["total"] = len(orders)
        shown = orders[:ORDER_SLOTS]
        for i, order in enumerate(shown):
            self._write_order(ex, order, rows[i])
        block["count"] = len(shown)
        finished = [o for cid in reversed(ex.recent) if (o := ex.tracker.get(cid)) is not None]
        for i, order in enumerate(finished):
            self._write_order(ex, order, block["recent"][i])
        block["n_recent"] = len(finished)
        w.end_orders()

    def _write_strategies(self, host: StrategyHost, ex: Execution) -> None:
        # Every publish: decision costs and state move without an execution version bump.
        mode, marks = ex.mode, self._marks
        figures = host.figures(marks, lambda name: ex.account.strategy_pnl(mode, name, marks))
        w = self.writer
        w.begin_strategies()
        block = w.strategies
        block["total"] = len(figures)
        shown = figures[:STRATEGY_SLOTS]
        for f, row in zip(shown, block["rows"], strict=False):
            row["name"] = f.name.encode()[:32]
            row["state"] = STRATEGY_STATES.index(f.state)
            row["by_trader"] = f.by_trader
            row["why"] = f.why.encode()[:120]
            row["last_alert"] = f.last_alert.encode()[:120]
            row["intents"] = f.intents
            row["held"] = f.held
            row["open_orders"] = f.open_orders
            row["fills"] = f.fills
            row["errors"] = f.errors
            row["overruns"] = f.overruns
            row["reloads"] = f.reloads
            row["realized"] = f.realized
            row["unrealized"] = f.unrealized
            row["fees"] = f.fees
            row["p50_ns"] = f.p50_ns
            row["p99_ns"] = f.p99_ns
            row["max_ns"] = f.max_ns
            row["calls"] = f.calls
            row["params"] = f.params.encode()[:256]
        block["count"] = len(shown)
        w.end_strategies()

    @staticmethod
    def _write_order(ex: Execution, order: Order, row: np.ndarray) -> None:
        intent = order.intent
        inst = ex.instruments[intent.symbol]
        row["client_id"] = order.client_id.encode()[:40]
        row["symbol"] = intent.symbol.encode()
        row["strategy"] = intent.strategy.encode()[:16]
        row["side"] = int(intent.side)
        row["order_type"] = int(intent.order_type)
        row["tif"] = int(intent.tif)
        row["status"] = int(order.status)
        row["reduce_only"] = 1 if intent.reduce_only else 0
        row["mode"] = int(ex.order_mode(order.client_id) or Mode.PAPER)
        row["price"] = intent.price * inst.tick_units
        row["qty"] = intent.qty * inst.lot_units
        row["filled"] = order.filled * inst.lot_units
        row["created_ns"] = order.created_ns
        row["reason"] = int(ex.end_reason(order.client_id))
        row["text"] = order.reason.encode()[:96]

    def _write_symbol(self, market: MarketData, index: int, state: int) -> None:
        feed = market.feeds[index]
        w = self.writer
        w.begin_symbol(index)
        s = w.symbol(index)
        s["feed_state"] = state
        s["recv_ns"] = feed.recv_ns
        s["event_time_ms"] = feed.event_time_ms
        s["msgs_total"] = feed.msgs
        sync = feed.sync
        if sync is None:
            w.end_symbol(index)
            return
        book = sync.book
        s["price_decimals"] = book.price_decimals
        s["qty_decimals"] = book.qty_decimals
        s["tick_units"] = book.tick_units
        s["synced"] = 1 if sync.synced else 0
        s["last_update_id"] = sync.last_update_id
        s["gaps"] = sync.gaps
        s["resyncs"] = sync.resyncs
        s["top_mismatches"] = feed.top_mismatches
        s["verify_runs"] = market.verifier.runs.get(feed.symbol, 0)
        s["verify_mismatches"] = market.verifier.mismatches.get(feed.symbol, 0)
        s["mark_price"] = feed.mark_price
        s["funding_rate"] = feed.funding_rate
        s["next_funding_ms"] = feed.next_funding_ms
        if sync.synced:
            n_bids, n_asks = book.top(
                BOOK_DEPTH, self._bid_px, self._bid_qty, self._ask_px, self._ask_qty
            )
        else:
            n_bids = n_asks = 0
        s["n_bids"] = n_bids
        s["n_asks"] = n_asks
        np.multiply(self._bid_px, book.tick_units, out=s["bid_px"])
        np.multiply(self._bid_qty, book.lot_units, out=s["bid_qty"])
        np.multiply(self._ask_px, book.tick_units, out=s["ask_px"])
        np.multiply(self._ask_qty, book.lot_units, out=s["ask_qty"])
        s["best_bid"] = self._bid_px[0] * book.tick_units if n_bids else -1
        s["best_ask"] = self._ask_px[0] * book.tick_units if n_asks else -1
        s["trade_count"] = feed.trade_count
        s["trade_px"] = feed.trade_px
        s["trade_qty"] = feed.trade_qty
        s["trade_time_ms"] = feed.trade_time_ms
        s["trade_buyer_maker"] = feed.trade_buyer_maker
        ex = self.execution
        inst = ex.instruments.get(feed.symbol) if ex is not None else None
        if ex is not None and inst is not None:
            # Observe trades nothing of its own: the live account's position stays in view
            # (after a kill, what is still held is what matters).
            mode = Mode.PAPER if ex.mode == Mode.PAPER else Mode.LIVE
            pos = ex.account.book(mode, feed.symbol)
            s["position"] = pos.lots * inst.lot_units
            s["entry_price"] = round(pos.entry_ticks() * inst.tick_units)
            s["realized"] = pos.realized
            s["fees"] = pos.fees
            s["funding"] = pos.funding
            s["unrealized"] = ex.account.unrealized(
                mode, feed.symbol, self._marks.get(feed.symbol, 0.0)
            )
            s["open_orders"] = ex.exposure.symbols[feed.symbol].open_orders
        else:
            s["position"] = s["entry_price"] = s["open_orders"] = 0
            s["realized"] = s["fees"] = s["unrealized"] = s["funding"] = 0.0
        w.end_symbol(index)
