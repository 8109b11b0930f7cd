"""The Prometheus collector over real engine parts: a MarketData fed venue frames, a real
journal, execution and rate budget. Names, types, units and histogram shape are checked on
the text exposition as Prometheus parses it."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from hftui.config import Config, ConfigError, MetricsConfig, parse_config
from hftui.engine.binance.client import DEFAULT_LIMITS, RateBudget, VenueClient
from hftui.engine.deadman import DeadMansSwitch
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import Lots, OrderIntent, Ticks
from hftui.engine.journal import Journal
from hftui.engine.kill_switch import KillSwitch
from hftui.engine.market_data import MarketData
from hftui.engine.metrics import EventTally
from hftui.engine.metrics_exporter import EngineCollector, MetricsExporter
from hftui.engine.strategy_host import StrategyHost
from hftui.exchange.symbols import exchange_info
from hftui.protocol import CommandAnswered, Heartbeat, Mode, Reason, Side
from tests.unit.engine.test_market_data import NAMES, engine, sync_all, wire

WEIGHT = "x-mbx-used-weight-1m"


@dataclass
class Parts:
    """The engine's components as the collector sees them."""

    kill_switch: KillSwitch
    market: MarketData | None = None
    execution: Execution | None = None
    journal: Journal | None = None
    strategies: StrategyHost | None = None
    tally: EventTally = field(default_factory=EventTally)
    dead_man: DeadMansSwitch = field(default_factory=lambda: DeadMansSwitch("cancel", 3.0))


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    p = Parts(KillSwitch(tmp_path / "kill.json"))
    yield p
    if p.journal is not None:
        p.journal.close()


def scrape(parts: Parts) -> dict[str, list[Sample]]:
    """Every sample by family name, from the text exposition as Prometheus reads it."""
    registry = CollectorRegistry()
    registry.register(EngineCollector(parts))
    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    types.clear()
    types.update({name: f.type for name, f in families.items()})
    return {name: f.samples for name, f in families.items()}


types: dict[str, str] = {}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, samples[:5])
    return found[0]


def fed_market() -> MarketData:
    """A real MarketData whose books synced from venue frames, each received 5 us before the
    clock reads it (ingest) and about 0.4 s after the venue stamped it (feed delay)."""
    market, venues, clock = engine()
    clock.now_ns = 1_700_000_001_000_000_000
    sync_all(market, venues)
    for _ in range(20):
        for venue in venues.values():
            market.on_frame(wire(venue.event()), clock.now_ns - 5_000)
    btc = venues["BTCUSDT"].event()
    btc["pu"] = int(str(btc["pu"])) - 1  # a break in the chain: a gap
    market.on_frame(wire(btc), clock.now_ns - 5_000)
    market.on_frame(b"\xff not a frame", clock.now_ns)
    return market


def test_market_counters_and_histograms_follow_the_engine(parts: Parts) -> None:
    market = fed_market()
    parts.market = market
    got = scrape(parts)

    # Counters: `_total` on the sample, "counter" as the type.
    assert value(got["hftui_messages_received"], "hftui_messages_received_total") == (
        market.msgs_total
    )
    assert market.msgs_total > 40
    assert types["hftui_messages_received"] == "counter"
    assert value(got["hftui_received_bytes"], "hftui_received_bytes_total") == market.bytes_total
    assert value(got["hftui_bad_frames"], "hftui_bad_frames_total") == 1
    for feed in market.feeds:
        assert feed.sync is not None
        samples = got["hftui_symbol_messages_received"]
        name = "hftui_symbol_messages_received_total"
        assert value(samples, name, symbol=feed.symbol) == feed.msgs
        assert value(got["hftui_book_gaps"], "hftui_book_gaps_total", symbol=feed.symbol) == (
            feed.sync.gaps
        )
    assert value(got["hftui_book_gaps"], "hftui_book_gaps_total", symbol="BTCUSDT") >= 1
    assert value(got["hftui_stream_connected"], "hftui_stream_connected", stream="depth") == 1

    # Histograms, in seconds: 5 us of ingest lies under the 8.192 us edge, above 4.096 us.
    assert types["hftui_ingest_latency_seconds"] == "histogram"
    ingest = [s for s in got["hftui_ingest_latency_seconds"] if s.labels.get("symbol") == "ETHUSDT"]
    buckets = [(s.labels["le"], s.value) for s in ingest if s.name.endswith("_bucket")]
    counts = [n for _, n in buckets]
    assert counts == sorted(counts), "buckets must be cumulative"
    assert buckets[-1][0] == "+Inf"
    count = value(ingest, "hftui_ingest_latency_seconds_count", symbol="ETHUSDT")
    # The two frames of the initial sync were stamped 0: ~54 years, only under +Inf.
    assert buckets[-1][1] == count == 22
    by_le = {float(le): n for le, n in buckets}
    assert by_le[4.096e-06] == 0
    assert by_le[8.192e-06] == by_le[max(le for le in by_le if le < float("inf"))] == 20
    eth = market.feed("ETHUSDT")
    assert eth is not None
    assert value(ingest, "hftui_ingest_latency_seconds_sum", symbol="ETHUSDT") == pytest.approx(
        eth.ingest.sum_ns / 1e9
    )
    delay = got["hftui_feed_delay_seconds"]
    delay_sum = value(delay, "hftui_feed_delay_seconds_sum", symbol="ETHUSDT")
    delay_count = value(delay, "hftui_feed_delay_seconds_count", symbol="ETHUSDT")
    assert 0.2 < delay_sum / delay_count < 1.0  # seconds, not nanoseconds

    # Conventions: one prefix, base units in the name, every counter a `_total`.
    for name, kind in types.items():
        assert name.startswith("hftui_"), name
        if kind == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in got[name]), name
        if kind == "histogram":
            assert name.endswith("_seconds"), name


def test_execution_journal_and_refusals_are_exported(parts: Parts, tmp_path: Path) -> None:
    market = fed_market()
    parts.market = market
    instruments = parse_instruments(exchange_info(NAMES, 0), NAMES)
    tally = parts.tally
    ex = Execution(Config(), instruments, tally.see)  # refusals reach the tally as in the engine
    parts.execution = ex
    # No mid for the price band: risk refuses; in observe a good one is only "would send".
    ex.place(OrderIntent("BTCUSDT", Side.BUY, Lots(10), Ticks(1)))
    tally.see(CommandAnswered(1, False, Reason.READ_ONLY, "read-only"))
    tally.see(CommandAnswered(2, True, Reason.OK, "ok"))
    now = [1000.0]
    client = VenueClient("http://127.0.0.1:9", None)
    client.budget = RateBudget(DEFAULT_LIMITS, clock=lambda: now[0])
    client.budget.spend(7, 0)
    now[0] += 30.0
    client.budget.spend(5, 1)
    now[0] += 31.0  # the first spend is out of the 1-minute window, the second is not
    ex.client = client
    journal = Journal(tmp_path / "journal.sqlite3")
    parts.journal = journal
    journal.audit("test", "a record")
    journal.close()  # everything queued is committed

    got = scrape(parts)
    assert value(got["hftui_orders_refused"], "hftui_orders_refused_total") == ex.refusals == 1
    rejects = got["hftui_order_rejects"]
    assert sum(s.value for s in rejects if s.name.endswith("_total")) == 1
    assert value(got["hftui_command_refusals"], "hftui_command_refusals_total", reason="read_only")
    assert value(got["hftui_events_published"], "hftui_events_published_total") == 3
    # The budget is read without evicting: the expired spend is still held, but not counted.
    assert value(got["hftui_rate_limit_used"], "hftui_rate_limit_used", limit=WEIGHT) == 5
    ratio = value(got["hftui_rate_limit_used_ratio"], "hftui_rate_limit_used_ratio", limit=WEIGHT)
    assert ratio == pytest.approx(5 / 2400)
    assert len(client.budget._tracks[0].spent) == 2
    assert value(got["hftui_journal_commits"], "hftui_journal_commits_total") >= 1
    commits = got["hftui_journal_commit_duration_seconds"]
    assert value(commits, "hftui_journal_commit_duration_seconds_count") >= 1
    assert value(got["hftui_journal_queue_depth"], "hftui_journal_queue_depth") == 0
    assert value(got["hftui_mode"], "hftui_mode", mode=Mode.OBSERVE.label) == 1
    assert value(got["hftui_mode"], "hftui_mode", mode=Mode.LIVE.label) == 0
    assert value(got["hftui_killed"], "hftui_killed") == 0
    parts.journal = None


def test_the_controlling_tuis_event_reader_is_exported(parts: Parts) -> None:
    got = scrape(parts)  # no TUI in control: nothing behind
    assert value(got["hftui_event_ring_depth"], "hftui_event_ring_depth") == 0
    parts.tally.published = 1_000
    parts.dead_man.screen(4242, Heartbeat(True, 960, 12))
    got = scrape(parts)
    assert value(got["hftui_event_ring_depth"], "hftui_event_ring_depth") == 40
    overruns = got["hftui_event_ring_overruns"]
    assert value(overruns, "hftui_event_ring_overruns_total") == 12


def test_the_exporter_serves_on_loopback_only_and_a_taken_port_is_an_error(
    parts: Parts,
) -> None:
    parts.market = fed_market()
    exporter = MetricsExporter(parts, 0)  # 0: any free port
    url = exporter.start()
    try:
        assert exporter._server is not None
        assert exporter._server.socket.getsockname()[0] == "127.0.0.1"
        assert url == f"http://127.0.0.1:{exporter.port}/metrics"
        assert exporter.port > 0
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            text = response.read().decode()
        assert "hftui_messages_received_total" in text
        assert "process_cpu_seconds_total" in text
        # The same port again cannot be bound.
        with pytest.raises(OSError, match="in use"):
            MetricsExporter(parts, exporter.port).start()
        # Nothing listens on the machine's other addresses.
        other = _non_loopback_address()
        if other is not None:
            with (
                pytest.raises(ConnectionRefusedError),
                socket.create_connection((other, exporter.port), 1),
            ):
                pass
    finally:
        exporter.stop()
    assert exporter.url is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: only picks a route
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_metrics_config_is_validated() -> None:
    assert parse_config({}).metrics == MetricsConfig(enabled=True, port=9464)
    assert parse_config({"metrics": {"port": 0}}).metrics.port == 0
    assert parse_config({"metrics": {"enabled": False}}).metrics.enabled is False
    for bad, words in (
        ({"port": 70_000}, "metrics.port = 70000 is not allowed"),
        ({"port": "9464"}, "metrics.port = '9464'"),
        ({"enabled": "yes"}, "metrics.enabled = 'yes' is not allowed: expected true or false"),
        ({"host": "127.0.0.2"}, "unknown key metrics.host"),
    ):
        with pytest.raises(ConfigError, match=words):
            parse_config({"metrics": bad})
