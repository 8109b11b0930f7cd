"""End to end: `kill -9` the engine at random moments during live order flow against the
local exchange, restart it, and check that the journal and the exchange agree on open
orders, fills and positions once the engine has recovered.

Keys come from keyrings.alt's plaintext file backend in the test's own data dir (a test
dependency only), for an account the exchange was started with."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from hftui.engine.binance.client import Credentials, VenueClient
from tests.e2e.test_trading import _bid, _engine_config, _ready
from tests.support.processes import HFTUI, cli, eventually, isolated_env, local_exchange, stop

pytestmark = pytest.mark.e2e

KEY = "crashKEYaaaabbbbccccddddeeeeffffgggghhhhiiiijjjjkkkkllllmmmmnnnn"
SECRET = "crashSECRETppppqqqqrrrrssssttttuuuuvvvvwwwwxxxxyyyyzzzz012345678"
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def _venue(url: str) -> tuple[set[str], set[tuple[int, str]], dict[str, Decimal]]:
    """The exchange's open client ids, trades (id, side: a self-trade's two legs share the id)
    and positions for the test account."""

    async def query() -> tuple[set[str], set[tuple[int, str]], dict[str, Decimal]]:
        client = VenueClient(url, Credentials(KEY, SECRET))
        try:
            opened = {str(o["clientOrderId"]) for o in await client.open_orders()}
            trades: set[tuple[int, str]] = set()
            for symbol in SYMBOLS:
                rows = await client.request(
                    "GET", "/fapi/v1/userTrades", {"symbol": symbol}, signed=True, weight=5
                )
                assert isinstance(rows, list)
                trades |= {(int(t["id"]), str(t["side"])) for t in rows}
            positions = {
                str(p["symbol"]): Decimal(str(p["positionAmt"]))
                for p in await client.position_risk()
                if p["symbol"] in SYMBOLS
            }
            return opened, trades, positions
        finally:
            await client.close()

    return asyncio.run(query())


def _journal(path: Path) -> tuple[set[str], set[tuple[int, str]], dict[str, Decimal], int]:
    """The journal's open live orders, live trades (id, side), latest live positions and how many
    recoveries it recorded (read-only, beside the running engine's writer)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        opened = {
            str(r[0])
            for r in conn.execute(
                "SELECT client_id FROM orders WHERE mode = 'live' AND status IN "
                "('PENDING_NEW', 'NEW', 'PARTIALLY_FILLED', 'PENDING_CANCEL')"
            )
        }
        trades = {
            (int(r[0]), str(r[1]))
            for r in conn.execute("SELECT trade_id, side FROM fills WHERE mode='live'")
        }
        positions = {
            str(symbol): Decimal(str(qty))
            for symbol, qty in conn.execute(
                "SELECT symbol, qty FROM position_snapshots WHERE id IN "
                "(SELECT MAX(id) FROM position_snapshots WHERE mode = 'live' GROUP BY symbol)"
            )
        }
        (recoveries,) = conn.execute(
            "SELECT COUNT(*) FROM audit WHERE kind = 'recovery'"
        ).fetchone()
        return opened, trades, positions, int(recoveries)
    finally:
        conn.close()


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [*HFTUI, "engine"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err,
        )  # fmt: skip


def _kill9(proc: subprocess.Popen[bytes]) -> None:
    stop(proc, signal.SIGKILL)
    for name in os.listdir("/dev/shm"):  # what an orderly stop would have unlinked
        if name.startswith(f"hftui_default_{proc.pid}_"):
            Path("/dev/shm", name).unlink(missing_ok=True)


def _agree(url: str, path: Path, recoveries: int) -> bool | None:
    j_open, j_trades, j_pos, done = _journal(path)
    if done < recoveries:
        return None
    v_open, v_trades, v_pos = _venue(url)
    assert j_open == v_open, (j_open, v_open)
    assert j_trades == v_trades, (sorted(j_trades ^ v_trades), len(v_trades))
    for symbol, amount in v_pos.items():
        assert j_pos.get(symbol, Decimal(0)) == amount, (symbol, j_pos, v_pos)
    return True


def _flow(
    env: dict[str, str], bids: dict[str, str], rng: random.Random, halt: threading.Event
) -> None:
    # Orders as a trader would send them: resting bids, cancels, and market orders that fill.
    while not halt.is_set():
        symbol = rng.choice(SYMBOLS)
        qty = "0.010" if symbol == "BTCUSDT" else "0.100"
        roll = rng.random()
        if roll < 0.5:
            cli(["order", "place", symbol, "buy", qty, "--price", bids[symbol], "--json"], env, 10)
        elif roll < 0.8:
            side = rng.choice(["buy", "sell"])
            cli(["order", "place", symbol, side, qty, "--type", "market", "--json"], env, 10)
        else:
            cli(["order", "cancel-all", "--json"], env, 10)


def test_kill_9_during_live_trading_loses_nothing(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    env["HOME"] = str(tmp_path / "home")
    env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    rng = random.Random(int(os.environ.get("HFTUI_CRASH_SEED", "7")))
    log = tmp_path / "engine.log"
    started = time.monotonic()
    with local_exchange(env, tmp_path, accounts=[f"{KEY}:{SECRET}"]) as url:
        _engine_config(env, url, "[live]\ncountdown_s = 0\n")
        stored = subprocess.run(
            [*HFTUI, "keys", "set", "--venue", "local"], env=env, input=f"{KEY}\n{SECRET}\n",
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert stored.returncode == 0, stored.stderr
        journal = Path(env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
        bids: dict[str, str] = {}
        cycles = 3
        for cycle in range(cycles + 1):
            engine = _start(env, log)
            try:
                _ready(env)
                # Each start recovers; then the journal and the venue must agree.
                eventually(functools.partial(_agree, url, journal, cycle + 1), 20, 0.2)
                if cycle == cycles:
                    break
                if not bids:
                    bids = {s: _bid(env, s) for s in SYMBOLS}
                assert cli(["mode", "paper", "--json"], env).returncode == 0
                live = cli(["mode", "live", "--confirm", "LIVE", "--json"], env)
                assert live.returncode == 0, live.stdout
                halt = threading.Event()
                flows = [
                    threading.Thread(
                        target=_flow, args=(env, bids, random.Random(rng.random()), halt)
                    )
                    for _ in range(2)
                ]
                for flow in flows:
                    flow.start()
                time.sleep(rng.uniform(1.0, 3.0))
                _kill9(engine)  # at a random moment of the flow
                halt.set()
                for flow in flows:
                    flow.join()
            except BaseException:
                print(log.read_text()[-3000:])  # noqa: T201 - the engine's last words
                raise
            finally:
                stop(engine)
        _, trades, _positions, recoveries = _journal(journal)
        assert recoveries == cycles + 1
        assert trades, "the flow never filled: the test proved nothing"
    assert time.monotonic() - started < 120
