"""End to end: funding paid on a live position reaches the P&L apart from fees, adds up in
`hftui status --json`, is journaled per UTC day, and today's figures survive a restart."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.e2e.test_trading import _answer, _engine_config, _ready
from tests.support.processes import cli_json, eventually, isolated_env, local_exchange, process

pytestmark = pytest.mark.e2e


def _pnl(env: dict[str, str]) -> dict[str, float]:
    pnl = cli_json(["status", "--json"], env)["pnl"]
    assert isinstance(pnl, dict)
    return {k: float(v) for k, v in pnl.items()}


def _journal_today(env: dict[str, str]) -> tuple[float, float, float]:
    path = Path(env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        row = conn.execute(
            "SELECT realized, fees, funding FROM daily_pnl WHERE day = ? AND mode = 'live'", (day,)
        ).fetchone()
        return (0.0, 0.0, 0.0) if row is None else (row[0], row[1], row[2])
    finally:
        conn.close()


def _settled(env: dict[str, str], key: str, column: int) -> dict[str, float] | None:
    """The status P&L once its `key` agrees with the journal's committed day."""
    pnl = _pnl(env)
    return pnl if pnl[key] == pytest.approx(_journal_today(env)[column], abs=1e-9) else None


def test_funding_and_fees_apart_and_today_survives_a_restart(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path, extra=("--funding-interval", "1.5")) as url:
        _engine_config(env, url)
        with process(["engine"], env):
            _ready(env)
            assert _answer(["mode", "paper"], env)[0] == 0
            assert _answer(["mode", "live", "--confirm", "LIVE"], env)[0] == 0
            buy = ["order", "place", "BTCUSDT", "buy", "0.050", "--type", "market"]
            assert _answer(buy, env)[0] == 0
            # Two funding settlements on the open position.
            eventually(lambda: _journal_today(env)[2] != 0 and _pnl(env)["funding"] != 0, 15)
            time.sleep(1.6)
            pnl = eventually(lambda: _settled(env, "funding", 2))
            symbols = cli_json(["status", "--json"], env)["symbols"]
            assert isinstance(symbols, dict)
            assert pnl["fees"] > 0
            assert pnl["funding"] != 0
            assert sum(float(s["funding"]) for s in symbols.values()) == pytest.approx(
                pnl["funding"]
            )
            assert pnl["daily"] == pytest.approx(
                pnl["realized"] + pnl["unrealized"] - pnl["fees"] + pnl["funding"], abs=1e-6
            )
            fees = _journal_today(env)[1]
            assert fees == pytest.approx(pnl["fees"])
            # Close it: the rest of the day's figures stay, funding stops.
            sell = [
                "order",
                "place",
                "BTCUSDT",
                "sell",
                "0.050",
                "--type",
                "market",
                "--reduce-only",
            ]
            assert _answer(sell, env)[0] == 0
            eventually(lambda: _journal_today(env)[1] > fees)
            before = eventually(lambda: _settled(env, "fees", 1))
        with process(["engine"], env):
            _ready(env)
            after = _pnl(env)  # observe: the live account's day, from the journal
            for key in ("realized", "fees", "funding"):
                assert after[key] == pytest.approx(before[key], abs=1e-9), key
