"""End to end: the venue's state changed behind the engine's back (a third-party client on the
same account while the exchange loses the user-data events) is found by reconciliation,
shown as alerts with both sides, audited, and either taken from the venue or halted on. The
wallet, moved by the lost fills' fees, is found and taken from the venue too."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient
from tests.e2e.test_crash import _journal
from tests.e2e.test_trading import _answer, _bid, _engine_config, _go_live
from tests.support.processes import (
    cli_json,
    eventually,
    http_post,
    isolated_env,
    journal_audit,
    local_exchange,
    process,
)

pytestmark = pytest.mark.e2e


def _third_party(url: str, cancel: str, buy_qty: str) -> Decimal:
    """Another client on the same account cancels `cancel` and buys at market; returns the
    venue's BTCUSDT position afterwards."""

    async def act() -> Decimal:
        client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
        try:
            await client.cancel_order("BTCUSDT", cancel)
            params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": buy_qty}
            await client.new_order(params | {"newClientOrderId": "thirdparty1"})
            rows = await client.position_risk()
            return next(Decimal(str(p["positionAmt"])) for p in rows if p["symbol"] == "BTCUSDT")
        finally:
            await client.close()

    return asyncio.run(act())


def _venue_wallet(url: str) -> Decimal:
    async def read() -> Decimal:
        client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
        try:
            rows = await client.balances()
            return next(Decimal(str(r["balance"])) for r in rows if r["asset"] == "USDT")
        finally:
            await client.close()

    return asyncio.run(read())


def _position(env: dict[str, str]) -> Decimal:
    symbols = cli_json(["status", "--json"], env)["symbols"]
    assert isinstance(symbols, dict)
    return Decimal(str(symbols["BTCUSDT"]["position"]))


def _journal_fills(env: dict[str, str], cid: str) -> Decimal:
    path = Path(env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        rows = conn.execute("SELECT qty FROM fills WHERE client_id = ?", (cid,)).fetchall()
        return sum((Decimal(str(r[0])) for r in rows), Decimal(0))
    finally:
        conn.close()


def _live_with_a_resting_bid(env: dict[str, str]) -> str:
    _go_live(env)
    bid = _bid(env, "BTCUSDT")
    code, doc = _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)
    assert code == 0, doc
    cid = str(doc["text"]).split()[0]
    eventually(lambda: cli_json(["orders", "--json"], env)["total"] == 1)
    return cid


@pytest.mark.parametrize("policy", ["correct", "halt"])
def test_changes_behind_the_engines_back_are_found(tmp_path: Path, policy: str) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        extra = f'[live]\nreconcile_interval_s = 1\non_mismatch = "{policy}"\n'
        _engine_config(env, url, extra)
        with process(["engine"], env):
            cid = _live_with_a_resting_bid(env)
            before = _position(env)
            # The exchange loses every user-data event meanwhile: the stream cannot tell.
            http_post(f"{url}/admin/faults/stall?stream=userData&seconds=4")
            venue_position = _third_party(url, cid, "0.020")
            assert venue_position == before + Decimal("0.020")
            # The engine's own market order fills: its REST answer says so, its trades are lost.
            code, doc = _answer(
                ["order", "place", "BTCUSDT", "buy", "0.010", "--type", "market"], env
            )
            assert code == 0, doc
            market = str(doc["text"]).split()[0]
            venue_position += Decimal("0.010")

            def found() -> dict[str, object] | None:
                texts = journal_audit(env, "reconcile")
                if cli_json(["orders", "--json"], env)["total"] or len(texts) < 4:
                    return None
                if not any("USDT balance: engine" in t for t in texts):
                    return None  # fees moved the wallet, and their updates were lost
                status = cli_json(["status", "--json"], env)
                if policy == "halt":  # killed: observe, which shows no live position
                    return status if status["killed"] else None
                return status if _position(env) == venue_position else None

            status = eventually(found, 15, 0.2)
            texts = journal_audit(env, "reconcile")
            assert any(f"{cid} " in t and "venue CANCELED" in t for t in texts), texts
            # What the engine held when it looked depends on which fills it had applied by
            # then (its own order's trades are taken from the venue's list in the same pass).
            assert any(
                "BTCUSDT position: engine " in t and f", venue {venue_position:.3f}" in t
                for t in texts
            ), (before, texts)
            assert any(f"{market} fills for 0.000" in t for t in texts), texts
            assert _journal_fills(env, market) == Decimal("0.010")  # the venue's own trades
            balance = status["balance"]
            assert isinstance(balance, dict)
            assert Decimal(str(balance["wallet"])) == _venue_wallet(url), balance
            reconcile = status["reconcile"]
            assert isinstance(reconcile, dict)
            assert reconcile["mismatches"] >= 4
            assert reconcile["last_age_s"] is not None
            assert status["killed"] is (policy == "halt")
            if policy == "correct":  # the position taken from the venue is journaled too
                journal = Path(env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
                eventually(lambda: _journal(journal)[2]["BTCUSDT"] == venue_position or None, 5)
            if policy == "correct":
                assert status["mode"] == "live"
                # Trading goes on, and the stream was rebuilt: a new order's events arrive.
                bid = _bid(env, "BTCUSDT")
                code, doc = _answer(
                    ["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env
                )
                assert code == 0, doc
                new = str(doc["text"]).split()[0]
                assert _answer(["order", "cancel", new], env)[0] == 0
                eventually(lambda: cli_json(["orders", "--json"], env)["total"] == 0)
            else:
                assert status["mode"] == "observe"
                kill = status["kill"]
                assert isinstance(kill, dict)
                assert "reconciliation" in str(kill["reason"])


def test_fills_taken_from_the_venue_are_not_counted_twice(tmp_path: Path) -> None:
    """The engine's own market order fills while the user-data stream loses its events: the
    venue's position moves before the engine has the trades. Reconciliation takes the
    trades from the venue's list; it must not also take the venue's position meanwhile, or
    the same fill counts twice until the next check puts it right (the soak saw this)."""
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[live]\nreconcile_interval_s = 0.5\n")
        with process(["engine"], env):
            _live_with_a_resting_bid(env)
            before = _position(env)
            http_post(f"{url}/admin/faults/stall?stream=userData&seconds=4")
            code, doc = _answer(
                ["order", "place", "BTCUSDT", "buy", "0.010", "--type", "market"], env
            )
            assert code == 0, doc
            target = before + Decimal("0.010")
            seen: list[Decimal] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                seen.append(_position(env))
                time.sleep(0.1)
            assert seen[-1] == target, seen
            assert max(seen) == target, seen  # never the fill twice
            texts = journal_audit(env, "reconcile")
            assert any("fills for 0.000" in t for t in texts), texts  # taken from the venue
            assert not any("BTCUSDT position:" in t for t in texts), texts
