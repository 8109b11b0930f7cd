"""End to end: paper fills of every engine run reach the journal. The paper matcher numbers
its trades; the journal keys fills by trade id, so a restarted engine numbering from 1 again
would have its fills taken for ones the journal already holds, and lost."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_trading import _answer, _engine_config, _ready
from tests.support.processes import eventually, isolated_env, local_exchange, process

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


def _journaled(env: dict[str, str], cid: str) -> bool:
    return cid in _paper_fills(env)


def test_paper_fills_of_a_restarted_engine_are_journaled(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[strategies]\nenabled = []\n")
        placed = []
        for _ in range(2):
            with process(["engine"], env):
                _ready(env)
                assert _answer(["mode", "paper"], env)[0] == 0
                buy = ["order", "place", "BTCUSDT", "buy", "0.010", "--type", "market"]
                code, doc = _answer(buy, env)
                assert code == 0, doc
                cid = str(doc["text"]).split()[2].rstrip(":")  # "paper order CID: ..."
                placed.append(cid)
                eventually(functools.partial(_journaled, env, cid), 10)
        fills = _paper_fills(env)
        assert set(placed) <= set(fills), (placed, fills)
        assert fills[placed[1]] > fills[placed[0]]  # numbered on from the first run
