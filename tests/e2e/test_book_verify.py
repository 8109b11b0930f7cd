"""End to end: a book that is silently wrong is found by the shadow check and healed.

The local exchange's `depth-wrong-qty` fault sends one diff that tells a wrong quantity for a
bid ten levels down while its own book keeps the right one: the update-id chain stays intact
and the top of the book is untouched, so neither the gap check nor bookTicker can see it. With
a 1 s check interval the engine must find it, count it (status and Prometheus), alert the
trader with the price and both quantities, and rebuild the book to the venue's. With no fault
the checks run and find nothing. Real processes throughout: exchange, engine, CLI.
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from hftui.cli import status_document
from hftui.config import Config, load_config
from hftui.instance import find_running
from hftui.protocol import AlertRaised
from hftui.remote import EngineControl
from tests.support.processes import (
    cli,
    eventually,
    http_post,
    isolated_env,
    local_exchange,
    process,
)

# Asserts wall-clock bounds: run one at a time, never beside another end-to-end test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
        body: bytes = response.read()
    return body


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private environment, also in force here for the in-process status reader."""
    env = isolated_env(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    monkeypatch.setenv("XDG_DATA_HOME", env["XDG_DATA_HOME"])
    return env


def _config(env: dict[str, str], url: str, instance: str) -> Config:
    path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A paused market sends nothing: the stale watchdog must not rebuild the books meanwhile.
    path.write_text(
        f'[venue]\nname = "local"\nurl = "{url}"\n[engine]\ninstance = "{instance}"\n'
        '[market]\nsymbols = ["BTCUSDT", "ETHUSDT"]\nverify_interval_s = 1\n'
        "stale_after_s = 30\n[metrics]\nport = 0\n"
    )
    return load_config(path)


def _symbols(config: Config) -> dict[str, dict[str, object]]:
    doc = status_document(config)
    assert doc["running"] is True, doc
    symbols = doc["symbols"]
    assert isinstance(symbols, dict)
    return symbols


def _count(config: Config, symbol: str, field: str) -> int:
    value = _symbols(config)[symbol][field]
    assert isinstance(value, int)
    return value


def _all_synced(config: Config) -> bool:
    symbols = _symbols(config)
    return all(symbols[s]["synced"] for s in SYMBOLS)


def _book(env: dict[str, str], symbol: str) -> dict[str, object]:
    done = cli(["book", symbol, "--depth", "20", "--json"], env)
    assert done.returncode == 0, done.stderr
    doc = orjson.loads(done.stdout)
    assert isinstance(doc, dict)
    return doc


def _venue_book(url: str, symbol: str) -> dict[str, object]:
    doc = orjson.loads(_get(f"{url}/fapi/v1/depth?symbol={symbol}&limit=20"))
    assert isinstance(doc, dict)
    return doc


def _caught_up(env: dict[str, str], url: str, symbol: str) -> dict[str, object] | None:
    """With the market paused: the engine's book once it has the venue's last id."""
    venue = _venue_book(url, symbol)
    book = _book(env, symbol)
    if book["synced"] and book["last_update_id"] == venue["lastUpdateId"]:
        return book
    return None


def _metric(config: Config, name: str, symbol: str) -> float:
    doc = status_document(config)
    metrics_url = doc["metrics_url"]
    assert isinstance(metrics_url, str)
    text = _get(metrics_url).decode()
    match = re.search(rf'^{name}{{symbol="{symbol}"}} (\S+)$', text, re.MULTILINE)
    assert match is not None, f"{name} for {symbol} not exported"
    return float(match.group(1))


def test_without_a_fault_the_checks_run_and_find_nothing(
    tmp_path: Path, xdg: dict[str, str]
) -> None:
    with local_exchange(xdg, tmp_path) as url:
        config = _config(xdg, url, "verifyok")
        with process(["engine"], xdg):
            eventually(lambda: _all_synced(config), timeout_s=30)
            gaps = {s: _count(config, s, "gaps") for s in SYMBOLS}
            # Checks alternate between the symbols, 0.5 s apart, on a moving market.
            eventually(
                lambda: all(_count(config, s, "verify_runs") >= 3 for s in SYMBOLS),
                timeout_s=30,
            )
            symbols = _symbols(config)
            for s in SYMBOLS:
                assert symbols[s]["verify_mismatches"] == 0, symbols[s]
                assert symbols[s]["gaps"] == gaps[s]
                assert symbols[s]["synced"]
            assert _metric(config, "hftui_book_verify_mismatches_total", "BTCUSDT") == 0.0


def test_a_silently_wrong_deep_level_is_found_counted_alerted_and_healed(
    tmp_path: Path, xdg: dict[str, str]
) -> None:
    with local_exchange(xdg, tmp_path) as url:
        config = _config(xdg, url, "verifybad")
        with process(["engine"], xdg):
            eventually(lambda: _all_synced(config), timeout_s=30)
            eventually(lambda: _count(config, "BTCUSDT", "verify_runs") >= 1, timeout_s=30)
            info = eventually(lambda: find_running("verifybad"), timeout_s=10)
            control = EngineControl(info)
            try:
                control.poll()  # from here on: the alerts this test causes
                http_post(f"{url}/admin/market/pause")
                try:
                    eventually(lambda: _caught_up(xdg, url, "BTCUSDT"), timeout_s=10)
                    before = _symbols(config)["BTCUSDT"]
                    wrong = http_post(f"{url}/admin/faults/depth-wrong-qty?symbol=BTCUSDT&rank=10")
                    assert wrong["qty_sent"] != wrong["qty_true"]

                    def counted() -> dict[str, object] | None:
                        btc = _symbols(config)["BTCUSDT"]
                        mismatches = btc["verify_mismatches"]
                        return btc if mismatches == before["verify_mismatches"] + 1 else None  # type: ignore[operator]

                    start = time.monotonic()
                    after = eventually(counted, timeout_s=10)
                    elapsed = time.monotonic() - start
                    # Silent: the ids chained and the top agreed; only the check saw it.
                    assert after["gaps"] == before["gaps"]
                    assert after["top_mismatches"] == before["top_mismatches"]
                    assert elapsed < 5.0
                    assert _count(config, "ETHUSDT", "verify_mismatches") == 0

                    expected = (
                        f"BTCUSDT book differs from the venue at bid {wrong['price']}: "
                        f"book {wrong['qty_sent']}, venue {wrong['qty_true']}; resyncing"
                    )
                    alerts: list[str] = []

                    def alerted() -> bool:
                        events, _ = control.poll()
                        alerts.extend(e.text for e in events if isinstance(e, AlertRaised))
                        return expected in alerts

                    eventually(alerted, timeout_s=10)
                    assert _metric(config, "hftui_book_verify_mismatches_total", "BTCUSDT") == 1.0
                finally:
                    http_post(f"{url}/admin/market/resume")

                # Healed: rebuilt from a snapshot, the book is the venue's level for level.
                eventually(lambda: _all_synced(config), timeout_s=10)
                http_post(f"{url}/admin/market/pause")
                try:
                    book = eventually(lambda: _caught_up(xdg, url, "BTCUSDT"), timeout_s=10)
                    venue = _venue_book(url, "BTCUSDT")
                    assert book["bids"] == venue["bids"]
                    assert book["asks"] == venue["asks"]
                finally:
                    http_post(f"{url}/admin/market/resume")

                # And checked again since, clean.
                runs = _count(config, "BTCUSDT", "verify_runs")
                eventually(lambda: _count(config, "BTCUSDT", "verify_runs") >= runs + 2, 15)
                assert _count(config, "BTCUSDT", "verify_mismatches") == 1
            finally:
                control.close()
