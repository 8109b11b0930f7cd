"""End to end: the engine's Prometheus exporter, found through `hftui status --json` and
scraped over loopback while the engine follows the local exchange."""

from __future__ import annotations

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

            families = _scrape(url)
            kind, samples = families["hftui_ingest_latency_seconds"]
            assert kind == "histogram"
            btc = {k: v for k, v in samples.items() if "symbol=BTCUSDT" in k}
            count = btc["hftui_ingest_latency_seconds_count,symbol=BTCUSDT"]
            assert count > 0
            assert btc["hftui_ingest_latency_seconds_bucket,le=+Inf,symbol=BTCUSDT"] == count
            assert families["hftui_feed_delay_seconds"][0] == "histogram"
            assert families["hftui_book_gaps"][0] == "counter"
            assert families["hftui_mode"][1]["hftui_mode,mode=observe"] == 1
            assert families["hftui_journal_queue_depth"][0] == "gauge"
            assert "process_resident_memory_bytes" in families


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
