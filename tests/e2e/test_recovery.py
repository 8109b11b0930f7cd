"""End to end: what happened at the venue while the engine was dead is recovered at restart.

The engine trades live on the local exchange with two resting bids and is killed with
`kill -9`. While it is down, another account sells into one of the bids (the engine's own
order fills and ends) and a third-party client on the engine's account buys at market (a
fill of an order the engine never knew). At restart the engine must show the order still
open, the order that ended, both fills (the venue's trade ids, journaled), and the venue's
position; nothing acknowledged before the crash is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient
from tests.e2e.test_crash import _kill9, _start
from tests.e2e.test_trading import _answer, _bid, _engine_config, _go_live, _ready
from tests.support.processes import (
    cli_json,
    eventually,
    http_post,
    isolated_env,
    local_exchange,
    stop,
)

pytestmark = pytest.mark.e2e

OTHER_KEY = "otherKEYaaaabbbbccccddddeeeeffffgggghhhhiiiijjjjkkkkllllmmmmnnnnoo"
OTHER_SECRET = "otherSECRETppppqqqqrrrrssssttttuuuuvvvvwwwwxxxxyyyyzzzz0123456789"
QTY = "0.010"


def _top_bid(url: str) -> tuple[str, str]:
    """The venue's best bid: price and the quantity resting there (ours included)."""
    with urllib.request.urlopen(f"{url}/fapi/v1/depth?symbol=BTCUSDT&limit=5", timeout=5) as r:  # noqa: S310
        price, qty = orjson.loads(r.read())["bids"][0]
    return str(price), str(qty)


def _while_down(
    url: str, sweep: str, third_party: bool = True
) -> tuple[Decimal, set[tuple[int, str]]]:
    """Another account sells `sweep` at market, the whole top bid level (the engine's bid is
    last in its queue); a third party on the engine's account buys QTY at market (unless not
    `third_party`). Returns the engine account's position and its trades (id, side) after."""

    async def act() -> tuple[Decimal, set[tuple[int, str]]]:
        other = VenueClient(url, Credentials(OTHER_KEY, OTHER_SECRET))
        ours = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
        try:
            sell = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": sweep}
            await other.new_order(sell)
            buy = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": QTY}
            if third_party:
                await ours.new_order(buy | {"newClientOrderId": "thirdparty-while-down"})
            rows = await ours.position_risk()
            position = next(
                Decimal(str(p["positionAmt"])) for p in rows if p["symbol"] == "BTCUSDT"
            )
            trades = await ours.request(
                "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, signed=True, weight=5
            )
            assert isinstance(trades, list)
            return position, {(int(t["id"]), str(t["side"])) for t in trades}
        finally:
            await other.close()
            await ours.close()

    return asyncio.run(act())


def _venue_trades(url: str) -> set[tuple[int, str]]:
    """The engine account's BTCUSDT trades (id, side) at the venue."""

    async def query() -> set[tuple[int, str]]:
        ours = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
        try:
            rows = await ours.request(
                "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, signed=True, weight=5
            )
        finally:
            await ours.close()
        assert isinstance(rows, list)
        return {(int(t["id"]), str(t["side"])) for t in rows}

    return asyncio.run(query())


def _journal(env: dict[str, str]) -> tuple[set[tuple[int, str]], list[str], dict[str, str]]:
    """The journal's live trades (id, side), recovery audit texts and live order statuses."""
    path = Path(env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        trades = {
            (int(r[0]), str(r[1]))
            for r in conn.execute("SELECT trade_id, side FROM fills WHERE mode='live'")
        }
        audits = [str(r[0]) for r in conn.execute("SELECT detail FROM audit WHERE kind='recovery'")]
        statuses = {
            str(cid): str(status)
            for cid, status in conn.execute(
                "SELECT client_id, status FROM orders WHERE mode='live'"
            )
        }
        return trades, audits, statuses
    finally:
        conn.close()


def test_fills_and_ends_while_the_engine_was_down_are_recovered(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    log = tmp_path / "engine.log"
    accounts = [f"{DEMO_API_KEY}:{DEMO_API_SECRET}", f"{OTHER_KEY}:{OTHER_SECRET}"]
    with local_exchange(env, tmp_path, accounts=accounts) as url:
        _engine_config(env, url, "[live]\ncountdown_s = 0\n")
        engine = _start(env, log)
        try:
            _ready(env)
            far = _bid(env, "BTCUSDT")
            assert _answer(["mode", "paper"], env)[0] == 0
            assert _answer(["mode", "live", "--confirm", "LIVE"], env)[0] == 0
            http_post(f"{url}/admin/market/pause")  # the synthetic flow must not touch the bids
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", QTY, "--price", far], env)
            assert code == 0, doc
            resting = str(doc["text"]).split()[0]
            top, _ = _top_bid(url)
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", QTY, "--price", top], env)
            assert code == 0, doc
            filled = str(doc["text"]).split()[0]
            eventually(lambda: cli_json(["orders", "--json"], env)["total"] == 2)
            price, sweep = _top_bid(url)
            assert price == top
            _kill9(engine)

            position, venue_trades = _while_down(url, sweep)
            assert position == Decimal(QTY) * 2  # our bid filled, the third party bought
            assert _journal(env)[0] == set()  # nothing filled while the engine lived

            engine = _start(env, log)
            _ready(env)

            def recovered() -> list[str] | None:
                audits = _journal(env)[1]
                return audits if len(audits) == 2 else None

            text = eventually(recovered, 20, 0.2)[-1]
            assert "1 order(s) still open" in text, text
            assert f"{len(venue_trades)} fill(s) while down" in text, text
            assert "1 ended while down" in text, text
            trades, _, statuses = _journal(env)
            assert trades == venue_trades
            assert statuses[resting] == "NEW"
            assert statuses[filled] == "FILLED"
            orders = cli_json(["orders", "--json"], env)
            assert orders["total"] == 1, orders
            # Live mode ended with the crash (the engine starts in observe), which shows the
            # live account: the venue's position.
            status = cli_json(["status", "--json"], env)
            symbols = status["symbols"]
            assert isinstance(symbols, dict)
            assert Decimal(str(symbols["BTCUSDT"]["position"])) == position
        except BaseException:
            print(log.read_text()[-3000:])  # noqa: T201 - the engine's last words
            raise
        finally:
            stop(engine)


def test_a_fill_lost_before_the_crash_is_recovered_by_its_order(tmp_path: Path) -> None:
    """The engine's bid fills while its user-data stream loses every event; then one of its
    market orders fills and is journaled, and it is killed before any reconciliation. The
    trades after the last journaled one do not hold the bid's: at restart the bid (open in
    the journal) is asked for its own trades, and the journal agrees with the venue."""
    env = isolated_env(tmp_path)
    log = tmp_path / "engine.log"
    accounts = [f"{DEMO_API_KEY}:{DEMO_API_SECRET}", f"{OTHER_KEY}:{OTHER_SECRET}"]
    with local_exchange(env, tmp_path, accounts=accounts) as url:
        _engine_config(env, url, "[live]\ncountdown_s = 0\nreconcile_interval_s = 0\n")
        engine = _start(env, log)
        try:
            _go_live(env)
            http_post(f"{url}/admin/market/pause")
            top, _ = _top_bid(url)
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", QTY, "--price", top], env)
            assert code == 0, doc
            eventually(lambda: cli_json(["orders", "--json"], env)["total"] == 1)
            _, sweep = _top_bid(url)
            http_post(f"{url}/admin/faults/stall?stream=userData&seconds=2")
            _while_down(url, sweep, third_party=False)  # the bid fills; its events are lost
            time.sleep(2.5)  # the stall is over: events flow again
            lost = _venue_trades(url)  # the bid's
            assert lost
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", QTY, "--type", "market"], env)
            assert code == 0, doc

            def market_fills_journaled() -> bool:  # one fill per resting order it met
                new = _venue_trades(url) - lost
                return bool(new) and _journal(env)[0] == new

            eventually(market_fills_journaled, 10, 0.1)
            _kill9(engine)

            venue_trades = _venue_trades(url)
            assert lost < venue_trades  # the journal had all but the bid's

            engine = _start(env, log)
            _ready(env)

            def recovered() -> list[str] | None:
                audits = _journal(env)[1]
                return audits if len(audits) == 2 else None

            text = eventually(recovered, 20, 0.2)[-1]
            assert "1 fill(s) the journal had missed" in text, text
            assert _journal(env)[0] == venue_trades
        except BaseException:
            print(log.read_text()[-3000:])  # noqa: T201 - the engine's last words
            raise
        finally:
            stop(engine)
