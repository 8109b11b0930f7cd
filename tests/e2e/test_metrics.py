"""End to end: the engine's Prometheus exporter, found through `hftui status --json` and
scraped over loopback while the engine follows the local exchange."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import cli, cli_json, eventually, isolated_env, local_exchange, process

pytestmark = pytest.mark.e2e


def _config(env: dict[str, str], url: str, metrics: str) -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[venue]\nname = "local"\nurl = "{url}"\n[engine]\ninstance = "metrics"\n'
        f"[metrics]\n{metrics}\n"
    )


def _scrape(url: str) -> dict[str, tuple[str, dict[str, float]]]:
    """Family name -> (type, {sample name with labels: value})."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
        assert response.status == 200
        text = response.read().decode()
    out: dict[str, tuple[str, dict[str, float]]] = {}
    for family in text_string_to_metric_families(text):
        samples = {
            s.name + "".join(f",{k}={v}" for k, v in sorted(s.labels.items())): s.value
            for s in family.samples
        }
        out[family.name] = (family.type, samples)
    return out


def _messages(url: str) -> float:
    return _scrape(url)["hftui_messages_received"][1]["hftui_messages_received_total"]


def test_status_names_the_exporter_and_its_counters_move(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as venue:
        _config(env, venue, "port = 0")  # any free port: the URL says which
        with process(["engine"], env):

            def metrics_url() -> str | None:
                doc = cli_json(["status", "--json"], env)
                url = doc.get("metrics_url") if doc["running"] else None
                return url if isinstance(url, str) else None

            url = eventually(metrics_url, 30)
            assert url.startswith("http://127.0.0.1:")
            assert url.endswith("/metrics")
            assert not url.startswith("http://127.0.0.1:9464/")
            plain = cli(["status"], env)
            assert f"metrics  {url}" in plain.stdout

            first = eventually(lambda: _messages(url) or None, 30)
            second = eventually(lambda: _messages(url) if _messages(url) > first else None, 30)
            assert second > first

            # Frames count from the first one received; the ingest histogram only from the
            # first one applied to a synced book (after the REST snapshot), which on a loaded
            # machine can come later.
            def btc_ingest() -> dict[str, float] | None:
                kind, samples = _scrape(url)["hftui_ingest_latency_seconds"]
                assert kind == "histogram"
                btc = {k: v for k, v in samples.items() if "symbol=BTCUSDT" in k}
                return btc if btc.get("hftui_ingest_latency_seconds_count,symbol=BTCUSDT") else None

            btc = eventually(btc_ingest, 30)
            families = _scrape(url)
            count = btc["hftui_ingest_latency_seconds_count,symbol=BTCUSDT"]
            assert count > 0
            assert btc["hftui_ingest_latency_seconds_bucket,le=+Inf,symbol=BTCUSDT"] == count
            assert families["hftui_feed_delay_seconds"][0] == "histogram"
            assert families["hftui_book_gaps"][0] == "counter"
            assert families["hftui_mode"][1]["hftui_mode,mode=observe"] == 1
            assert families["hftui_journal_queue_depth"][0] == "gauge"
            assert "process_resident_memory_bytes" in families
            # The start-up heap is out of the collector's full passes (tens of thousands of
            # objects: modules, numba, the engine's parts).
            assert families["hftui_gc_frozen_objects"][1]["hftui_gc_frozen_objects"] > 20_000
            assert families["python_gc_collections"][0] == "counter"


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as venue:
        _config(env, venue, "enabled = false")
        with process(["engine"], env):

            def running() -> dict[str, object] | None:
                doc = cli_json(["status", "--json"], env)
                return doc if doc["running"] else None

            doc = eventually(running, 30)
            assert doc["metrics_url"] is None
            assert "metrics  off" in cli(["status"], env).stdout


def _count(families: dict[str, tuple[str, dict[str, float]]], name: str) -> float:
    kind, samples = families[name]
    assert kind == "histogram", (name, kind)
    count = samples[f"{name}_count"]
    assert samples[f"{name}_bucket,le=+Inf"] == count
    return count


def test_order_timings_and_the_journal_lag_after_paper_and_strategy_orders(
    tmp_path: Path,
) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as venue:
        # The example market maker quotes ETHUSDT from on_book: in paper its quotes are
        # strategy orders with a tick-to-order.
        _config(
            env,
            venue,
            'port = 0\n[strategies]\nenabled = ["market_maker"]\nmax_mode = "paper"\n',
        )
        with process(["engine"], env):

            def metrics_url() -> str | None:
                doc = cli_json(["status", "--json"], env)
                url = doc.get("metrics_url") if doc["running"] else None
                return url if isinstance(url, str) else None

            url = eventually(metrics_url, 30)
            eventually(lambda: cli(["mode", "paper"], env).returncode == 0 or None, 30, 0.2)
            families = _scrape(url)
            before = _count(families, "hftui_order_round_trip_seconds")
            # A manual paper order at the best bid: a round trip, no tick-to-order of its own.
            book = eventually(
                lambda: (b := cli_json(["book", "BTCUSDT", "--json"], env)).get("bids") and b, 30
            )
            assert isinstance(book, dict)
            bid = str(book["bids"][0][0])
            placed = cli(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)
            assert placed.returncode == 0, placed.stdout + placed.stderr

            def moved() -> dict[str, tuple[str, dict[str, float]]] | None:
                now = _scrape(url)
                ok = (
                    _count(now, "hftui_tick_to_order_seconds") > 0
                    and _count(now, "hftui_order_round_trip_seconds") > before
                    and _count(now, "hftui_journal_write_lag_seconds") > 0
                )
                return now if ok else None

            families = eventually(moved, 30, 0.2)
            t2o = families["hftui_tick_to_order_seconds"][1]
            # Frame received to order handed to the paper matcher: well under a second here.
            assert t2o["hftui_tick_to_order_seconds_bucket,le=1.073741824"] == _count(
                families, "hftui_tick_to_order_seconds"
            )
            # The paper matcher answers after [paper] latency_ms, never before it.
            trip = families["hftui_order_round_trip_seconds"][1]
            trips = _count(families, "hftui_order_round_trip_seconds")
            assert trip["hftui_order_round_trip_seconds_sum"] >= 0.005 * trips  # 5 ms default
            assert trip["hftui_order_round_trip_seconds_bucket,le=0.004194304"] == 0
            lag = families["hftui_journal_write_lag_seconds"][1]
            assert lag["hftui_journal_write_lag_seconds_sum"] > 0
            assert "queued" in _help(url, "hftui_journal_write_lag_seconds")
            assert "controlling TUI" in _help(url, "hftui_event_ring_depth")

            # The snapshot carries the recent tick-to-order for the TUI and `status`.
            doc = cli_json(["status", "--json"], env)
            assert doc["mode"] == "paper"
            t2o_doc = doc["tick_to_order"]
            assert isinstance(t2o_doc, dict)
            assert t2o_doc["samples"] > 0
            assert 0 < t2o_doc["p50_us"] <= t2o_doc["p99_us"] < 1e6


def _help(url: str, name: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
        text: str = response.read().decode()
    return next(line for line in text.splitlines() if line.startswith(f"# HELP {name} "))


def test_a_taken_port_gives_way_to_a_free_one(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with (
        local_exchange(env, tmp_path) as venue,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter,
    ):
        squatter.bind(("127.0.0.1", 0))  # as another engine on the machine would hold it
        squatter.listen()
        taken = squatter.getsockname()[1]
        _config(env, venue, f"port = {taken}")
        with process(["engine"], env):

            def serving() -> dict[str, object] | None:
                doc = cli_json(["status", "--json"], env)
                return doc if doc["running"] and doc.get("metrics_url") else None

            doc = eventually(serving, 30)
            url = str(doc["metrics_url"])
            assert url.startswith("http://127.0.0.1:")
            assert f":{taken}/" not in url

            def metrics_ready() -> bool:
                parts = cli_json(["status", "--json"], env)["components"]
                assert isinstance(parts, dict)
                return bool(parts["metrics"]["ready"])

            eventually(lambda: metrics_ready() or None, 30, 0.2)
            assert eventually(lambda: _messages(url) or None, 30) > 0
            log = Path(env["XDG_DATA_HOME"]) / "hftui" / "logs" / "engine.log"
            assert f"metrics port {taken} is taken; serving on {url}" in log.read_text()
