"""Prometheus exporter: the engine's plain counters, read at scrape time, served on loopback.

prometheus-client's own metric objects take a lock on every update, so the engine never
uses them: the receive path, execution, the journal's writer thread and the strategy host
bump plain ints and `LatencyHistogram`s, and `EngineCollector.collect()` copies them on the
HTTP server's thread when Prometheus scrapes. Nothing here calls a method that changes what
the loop owns (the rate budget is read through `RateBudget.peek`, not `usage`).

A scrape runs beside the loop, so two independent counters may be read a few events apart
(a torn read across counters, never within one int); each histogram is read from a single
copy of its bucket list, so its buckets and count agree. Monitoring tolerates that; the
alternative, a lock on the hot path, is what this module exists to avoid.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from hftui.engine.deadman import DeadMansSwitch
from hftui.engine.metrics import EventTally, LatencyHistogram
from hftui.protocol import Mode
from hftui.rings import EVENT_CAPACITY

if TYPE_CHECKING:
    from hftui.engine.execution import Execution
    from hftui.engine.journal import Journal
    from hftui.engine.kill_switch import KillSwitch
    from hftui.engine.market_data import MarketData
    from hftui.engine.strategy_host import StrategyHost

__all__ = ["BIND_ADDRESS", "EngineCollector", "EngineParts", "MetricsExporter"]

log = logging.getLogger(__name__)

BIND_ADDRESS: Final = "127.0.0.1"  # never another interface: the figures name positions
# `le` labels as Prometheus writes floats (for these bounds, Python's repr is the same).
_LE: Final = [repr(b) for b in LatencyHistogram.bounds_s()]


class EngineParts(Protocol):
    """What the collector reads: the engine's components, each None until it exists."""

    @property
    def market(self) -> MarketData | None: ...

    @property
    def execution(self) -> Execution | None: ...

    @property
    def journal(self) -> Journal | None: ...

    @property
    def strategies(self) -> StrategyHost | None: ...

    @property
    def kill_switch(self) -> KillSwitch: ...

    @property
    def tally(self) -> EventTally: ...

    @property
    def dead_man(self) -> DeadMansSwitch: ...


def _observe(family: HistogramMetricFamily, labels: list[str], h: LatencyHistogram) -> None:
    """Add one `LatencyHistogram` (ns buckets) to `family` as cumulative `le` buckets in
    seconds, from a single copy of its counts."""
    counts = list(h.counts)
    running = 0
    buckets: list[tuple[str, float]] = []
    for le, n in zip(_LE, counts, strict=False):
        running += n
        buckets.append((le, running))
    buckets.append(("+Inf", running + counts[-1]))
    family.add_metric(labels, buckets, h.sum_ns / 1e9)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class EngineCollector(Collector):
    """Yields the engine's metrics, read from `parts` at each scrape."""

    def __init__(self, parts: EngineParts) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        parts = self.parts
        yield from self._engine(parts)
        market = parts.market
        if market is not None:
            yield from self._market(market)
        execution = parts.execution
        if execution is not None:
            yield from self._execution(execution)
        journal = parts.journal
        if journal is not None:
            yield from self._journal(journal)
        strategies = parts.strategies
        if strategies is not None:
            yield from self._strategies(strategies)

    @staticmethod
    def _engine(parts: EngineParts) -> Iterator[Metric]:
        execution = parts.execution
        mode = execution.mode if execution is not None else Mode.OBSERVE
        family = GaugeMetricFamily(
            "hftui_mode", "The trading mode in force (1 for the current one).", labels=["mode"]
        )
        for m in Mode:
            family.add_metric([m.label], 1.0 if m == mode else 0.0)
        yield family
        yield _gauge(
            "hftui_killed", "1 while the kill switch is latched.", parts.kill_switch.killed
        )
        tally = parts.tally
        yield _counter(
            "hftui_events_published_total",
            "Events written to the event ring.",
            tally.published,
        )
        yield _gauge("hftui_event_ring_capacity", "Slots in the event ring.", EVENT_CAPACITY)
        yield _gauge(
            "hftui_gc_frozen_objects",
            "Objects moved out of the garbage collector's full passes after start-up.",
            gc.get_freeze_count(),
        )
        # Readers map the ring read-only: the controlling TUI reports its reader in each
        # heartbeat (0.5 s), and these are its figures as of the last one.
        dead_man = parts.dead_man
        controlled = dead_man.controller_pid != 0
        yield _gauge(
            "hftui_event_ring_depth",
            "Events published and not yet read by the controlling TUI, as of its last "
            "heartbeat (0 while no TUI controls the engine).",
            max(0, tally.published - dead_man.reader_read) if controlled else 0,
        )
        yield _counter(
            "hftui_event_ring_overruns_total",
            "Events the controlling TUI lost to falling behind the ring (it then resyncs "
            "from the snapshots), as it reported them; starts again with a new TUI.",
            dead_man.reader_overruns if controlled else 0,
        )
        for counter_name, doc, counts in (
            (
                "hftui_order_rejects_total",
                "Orders that ended rejected (by risk or the venue), by reason.",
                dict(tally.rejects),
            ),
            (
                "hftui_command_refusals_total",
                "Commands the engine answered with a refusal, by reason.",
                dict(tally.refusals),
            ),
        ):
            refusals = CounterMetricFamily(counter_name, doc, labels=["reason"])
            for reason, n in sorted(counts.items()):
                refusals.add_metric([reason], n)
            yield refusals

    @staticmethod
    def _market(market: MarketData) -> Iterator[Metric]:
        yield _counter(
            "hftui_messages_received_total",
            "Stream frames received, all symbols and streams.",
            market.msgs_total,
        )
        yield _counter(
            "hftui_received_bytes_total", "Bytes of stream frames received.", market.bytes_total
        )
        yield _counter(
            "hftui_bad_frames_total", "Malformed stream frames dropped.", market.bad_frames
        )
        yield _counter(
            "hftui_stream_reconnects_total", "Stream connections replaced.", market.reconnects
        )
        yield _counter(
            "hftui_stream_rollovers_total",
            "Connections replaced before the venue's 24 h limit.",
            market.rollovers,
        )
        yield _counter(
            "hftui_stale_resyncs_total",
            "Symbols resynced because their depth stream alone went silent.",
            market.stale_resyncs,
        )
        connected = GaugeMetricFamily(
            "hftui_stream_connected", "1 while the stream connection is up.", labels=["stream"]
        )
        connected.add_metric(["depth"], market.depth_connected)
        connected.add_metric(["trades"], market.trades_connected)
        yield connected
        labels = ["symbol"]
        msgs = CounterMetricFamily(
            "hftui_symbol_messages_received_total", "Stream frames per symbol.", labels=labels
        )
        gaps = CounterMetricFamily(
            "hftui_book_gaps_total", "Breaks in a depth stream's update-id chain.", labels=labels
        )
        verify = CounterMetricFamily(
            "hftui_book_verify_mismatches_total",
            "Books that differed from the venue's REST snapshot, level by level (each resynced).",
            labels=labels,
        )
        resyncs = CounterMetricFamily(
            "hftui_book_resyncs_total", "Synced books thrown away and rebuilt.", labels=labels
        )
        mismatches = CounterMetricFamily(
            "hftui_top_of_book_mismatches_total",
            "Books whose top disagreed with bookTicker past the tolerance (each resynced).",
            labels=labels,
        )
        ingest = HistogramMetricFamily(
            "hftui_ingest_latency_seconds", "Frame received to book applied.", labels=labels
        )
        delay = HistogramMetricFamily(
            "hftui_feed_delay_seconds",
            "Venue event time to frame received (includes the clocks' offset).",
            labels=labels,
        )
        for feed in list(market.feeds):  # a symbol added meanwhile shows next scrape
            label = [feed.symbol]
            msgs.add_metric(label, feed.msgs)
            mismatches.add_metric(label, feed.top_mismatches)
            sync = feed.sync
            if sync is not None:
                gaps.add_metric(label, sync.gaps)
                verify.add_metric(label, market.verifier.mismatches.get(feed.symbol, 0))
                resyncs.add_metric(label, sync.resyncs)
            _observe(ingest, label, feed.ingest)
            _observe(delay, label, feed.feed_delay)
        yield from (msgs, gaps, verify, resyncs, mismatches, ingest, delay)

    @staticmethod
    def _execution(execution: Execution) -> Iterator[Metric]:
        yield _counter(
            "hftui_orders_sent_total", "Orders sent (paper or live).", execution.orders_sent
        )
        yield _counter(
            "hftui_orders_refused_total",
            "Orders refused by risk or the venue.",
            execution.refusals,
        )
        yield _counter(
            "hftui_orders_would_send_total",
            "Orders that passed risk in observe (reported, not sent).",
            execution.would_send,
        )
        timings = execution.timings
        t2o = HistogramMetricFamily(
            "hftui_tick_to_order_seconds",
            "Strategy orders: the triggering frame received to the order handed to the venue "
            "client or the paper matcher.",
        )
        _observe(t2o, [], timings.tick_to_order)
        round_trip = HistogramMetricFamily(
            "hftui_order_round_trip_seconds",
            "Order handed over to the venue's (or the paper matcher's) first answer.",
        )
        _observe(round_trip, [], timings.round_trip)
        yield t2o
        yield round_trip
        client = execution.client
        if client is None:
            return
        budget = client.budget
        used = GaugeMetricFamily(
            "hftui_rate_limit_used",
            "Request weight or orders used in the limit's current window.",
            labels=["limit"],
        )
        ratio = GaugeMetricFamily(
            "hftui_rate_limit_used_ratio", "Fraction of the limit used.", labels=["limit"]
        )
        for header, n, limit in budget.peek():
            used.add_metric([header], n)
            ratio.add_metric([header], n / limit if limit > 0 else 0.0)
        yield used
        yield ratio
        yield _gauge(
            "hftui_rate_limit_ban_seconds",
            "Seconds until a 429/418 block lifts (0 when not blocked).",
            budget.ban_remaining(),
        )

    @staticmethod
    def _journal(journal: Journal) -> Iterator[Metric]:
        yield _gauge(
            "hftui_journal_queue_depth",
            "Records queued for the journal's writer and not yet taken.",
            journal.pending(),
        )
        yield _counter("hftui_journal_commits_total", "Transactions committed.", journal.batches)
        yield _counter("hftui_journal_records_total", "Records committed.", journal.records)
        yield _gauge(
            "hftui_journal_failing", "1 while the last commit failed.", bool(journal.error)
        )
        commits = HistogramMetricFamily(
            "hftui_journal_commit_duration_seconds", "Time to commit one batch (fsync included)."
        )
        _observe(commits, [], journal.commit_latency)
        yield commits
        lag = HistogramMetricFamily(
            "hftui_journal_write_lag_seconds", "A record queued for the journal to committed."
        )
        _observe(lag, [], journal.write_lag)
        yield lag

    @staticmethod
    def _strategies(host: StrategyHost) -> Iterator[Metric]:
        yield _counter(
            "hftui_strategy_intents_total", "Strategy intents that reached risk.", host.intents
        )
        yield _counter(
            "hftui_strategy_intents_held_total",
            "Strategy intents held back by strategies.max_mode.",
            host.held,
        )
        labels = ["strategy"]
        errors = CounterMetricFamily(
            "hftui_strategy_errors_total", "Exceptions raised by a strategy.", labels=labels
        )
        overruns = CounterMetricFamily(
            "hftui_strategy_overruns_total", "Hooks that ran over their budget.", labels=labels
        )
        hooks = HistogramMetricFamily(
            "hftui_strategy_callback_duration_seconds",
            "Time spent in each strategy hook.",
            labels=["strategy", "hook"],
        )
        for slot in list(host.slots.values()):
            errors.add_metric([slot.name], slot.errors)
            overruns.add_metric([slot.name], slot.overruns)
            for hook, histogram in list(slot.latency.items()):
                _observe(hooks, [slot.name, hook], histogram)
        yield from (errors, overruns, hooks)


class MetricsExporter:
    """`/metrics` for one engine on 127.0.0.1, on a daemon thread of prometheus-client's
    WSGI server, with the engine's collector and the process' own figures."""

    def __init__(self, parts: EngineParts, port: int) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(EngineCollector(parts))
        ProcessCollector(registry=self.registry)  # cpu, memory, open fds of this process
        GCCollector(registry=self.registry)  # collections and what they found, per generation
        self.requested_port = port  # 0: any free port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (0 until started)."""
        return int(self._server.server_port) if self._server is not None else 0

    @property
    def serving(self) -> bool:
        """Bound and its serving thread running."""
        thread = self._thread
        return self._server is not None and thread is not None and thread.is_alive()

    @property
    def url(self) -> str | None:
        return f"http://{BIND_ADDRESS}:{self.port}/metrics" if self._server else None

    def start(self) -> str:
        """Bind and serve; returns the URL. Raises OSError when the port is taken."""
        self._server, self._thread = start_http_server(
            self.requested_port, addr=BIND_ADDRESS, registry=self.registry
        )
        url = f"http://{BIND_ADDRESS}:{self.port}/metrics"
        log.info("metrics exporter listening", extra={"url": url})
        return url

    def stop(self) -> None:
        """Stop serving and close the socket (waits for the serving loop to end)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
