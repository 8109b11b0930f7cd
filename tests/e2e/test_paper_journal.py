"""End to end: paper fills of every engine run reach the journal, and the paper position
outlives the engine. The paper matcher numbers its trades; the journal keys fills by trade
id, so a restarted engine numbering from 1 again would have its fills taken for ones the
journal already holds, and lost. A restarted engine, whether stopped or killed, starts from
the paper position the journal last had, as a venue's account would."""

from __future__ import annotations

import functools
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_trading import _answer, _engine_config, _ready
from tests.support.processes import (
    cli_json,
    eventually,
    isolated_env,
    local_exchange,
    process,
    stop,
)

pytestmark = pytest.mark.e2e


def _paper_fills(env: dict[str, str]) -> dict[str, int]:
    """Journaled paper fills: client id -> trade id."""
    path = Path(env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        rows = conn.execute("SELECT client_id, trade_id FROM fills WHERE mode = 'paper'")
        return {str(cid): int(trade) for cid, trade in rows}
    finally:
        conn.close()


def _position(env: dict[str, str]) -> str:
    """BTCUSDT's position in the engine's mode, as `status --json` gives it."""
    symbols = cli_json(["status", "--json"], env)["symbols"]
    assert isinstance(symbols, dict)
    return str(symbols["BTCUSDT"]["position"])


def _holds(env: dict[str, str], position: str) -> bool:
    return _position(env) == position


def _journaled(env: dict[str, str], cid: str) -> bool:
    return cid in _paper_fills(env)


def test_paper_fills_of_a_restarted_engine_are_journaled(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[strategies]\nenabled = []\n")
        placed = []
        for run, how in enumerate((signal.SIGTERM, signal.SIGKILL, signal.SIGTERM)):
            with process(["engine"], env) as engine:
                _ready(env)
                assert _answer(["mode", "paper"], env)[0] == 0
                assert _position(env) == f"{run * 0.010:.3f}"  # what the runs before bought
                buy = ["order", "place", "BTCUSDT", "buy", "0.010", "--type", "market"]
                code, doc = _answer(buy, env)
                assert code == 0, doc
                cid = str(doc["text"]).split()[2].rstrip(":")  # "paper order CID: ..."
                placed.append(cid)
                eventually(functools.partial(_journaled, env, cid), 10)
                eventually(functools.partial(_holds, env, f"{(run + 1) * 0.010:.3f}"), 10)
                stop(engine, how)
        fills = _paper_fills(env)
        assert set(placed) <= set(fills), (placed, fills)
        assert fills[placed[0]] < fills[placed[1]] < fills[placed[2]]  # numbered on
