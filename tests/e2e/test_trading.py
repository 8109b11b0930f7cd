"""End to end: orders, modes and the kill switch, with the exchange and the engine as real
processes, driven through the CLI exactly as a trader on a second SSH session would. The
exchange's own records (queried with the demo account) are the proof of what was sent."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient
from tests.support.processes import (
    cli,
    cli_json,
    eventually,
    http_post,
    isolated_env,
    journal_audit,
    journal_rows,
    local_exchange,
    process,
    stop,
)

pytestmark = pytest.mark.e2e


def _venue_orders(url: str) -> list[dict[str, object]]:
    async def query() -> list[dict[str, object]]:
        client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
        try:
            return await client.open_orders()
        finally:
            await client.close()

    return asyncio.run(query())


def _answer(args: list[str], env: dict[str, str]) -> tuple[int, dict[str, object]]:
    done = cli([*args, "--json"], env)
    assert done.stdout, done.stderr
    doc = orjson.loads(done.stdout)
    assert isinstance(doc, dict)
    return done.returncode, doc


def _bid(env: dict[str, str], symbol: str, below_bps: int = 100) -> str:
    """A bid price `below_bps` under the best bid: far enough that the synthetic market does
    not reach it during a test, near enough for the 500 bps fat-finger band."""

    def probe() -> str | None:
        done = cli(["book", symbol, "--depth", "1", "--json"], env)
        if done.returncode:
            return None
        doc = orjson.loads(done.stdout)
        return str(doc["bids"][0][0]) if doc["synced"] and doc["bids"] else None

    best = eventually(probe, 30)
    whole, _, frac = best.partition(".")
    units = int(whole + frac)
    far = units - units * below_bps // 10_000
    far -= far % 10  # on the grid of both BTCUSDT (0.10) and ETHUSDT (0.01)
    text = str(far).rjust(len(frac) + 1, "0")
    return f"{text[: -len(frac)]}.{text[-len(frac) :]}" if frac else text


def _ready(env: dict[str, str]) -> None:
    # Trading answers once exchangeInfo is in: until then commands are "busy".
    def probe() -> bool:
        done = cli(["mode", "observe", "--json"], env)
        return done.returncode == 0

    eventually(probe, 30, 0.2)


def _go_live(env: dict[str, str]) -> None:
    """Once the engine trades and the BTCUSDT book is synced: paper, then live."""
    _ready(env)
    _bid(env, "BTCUSDT")
    assert _answer(["mode", "paper"], env)[0] == 0
    assert _answer(["mode", "live", "--confirm", "LIVE"], env)[0] == 0


def _engine_config(env: dict[str, str], url: str, extra: str = "") -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[venue]\nname = "local"\nurl = "{url}"\n{extra}')


def test_observe_paper_live_and_the_kill_switch(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[live]\nrecv_window_ms = 1000\n")
        with process(["engine"], env) as engine:
            try:
                _ready(env)
            except AssertionError:
                stop(engine)
                raise AssertionError(engine.stderr.read() if engine.stderr else "") from None
            bid = _bid(env, "BTCUSDT")

            # observe: risk-checked, reported as "would send", nothing reaches the venue.
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)
            assert code == 0
            assert "would send" in str(doc["text"])
            code, doc = _answer(
                ["order", "place", "BTCUSDT", "buy", "0.010", "--price", "50000"], env
            )
            assert (code, doc["reason"]) == (3, "price_band")
            assert _venue_orders(url) == []

            # Up one step at a time; live needs the typed word.
            code, doc = _answer(["mode", "live", "--confirm", "LIVE"], env)
            assert (code, doc["reason"]) == (3, "mode_step")
            assert _answer(["mode", "paper"], env)[0] == 0

            # paper: the order lives in the engine only.
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)
            assert code == 0
            rows = cli_json(["orders", "--json"], env)["orders"]
            assert isinstance(rows, list)
            assert [o["mode"] for o in rows] == ["paper"]
            assert _venue_orders(url) == []

            code, doc = _answer(["mode", "live"], env)
            assert (code, doc["reason"]) == (3, "confirmation")
            assert _answer(["mode", "live", "--confirm", "LIVE"], env)[0] == 0
            # Leaving paper canceled the paper order.
            assert cli_json(["orders", "--json"], env)["total"] == 0

            # live: orders really rest at the venue, and cancel.
            eth = _bid(env, "ETHUSDT")
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)
            assert code == 0, doc
            first = str(doc["text"]).split()[0]
            assert (
                _answer(["order", "place", "ETHUSDT", "buy", "0.100", "--price", eth], env)[0] == 0
            )
            assert {o["symbol"] for o in _venue_orders(url)} == {"BTCUSDT", "ETHUSDT"}
            assert _answer(["order", "cancel", first], env)[0] == 0
            eventually(lambda: [o["symbol"] for o in _venue_orders(url)] == ["ETHUSDT"])

            # A market order fills from the synthetic book; the position shows.
            assert (
                _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--type", "market"], env)[0]
                == 0
            )

            # The venue's own refusal reaches the trader with its reason.
            code, doc = _answer(
                ["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid, "--post-only"], env
            )
            assert code == 0  # a resting bid is a fine post-only order
            assert (
                _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)[0] == 0
            )

            # The kill switch: orders on two symbols, zero left at the venue, latched.
            assert len(_venue_orders(url)) >= 2
            code, doc = _answer(["kill", "--flatten"], env)
            assert code == 0
            assert "zero open orders" in str(doc["text"])
            assert _venue_orders(url) == []
            status = cli_json(["status", "--json"], env)
            assert (status["mode"], status["killed"]) == ("observe", True)
            kill = status["kill"]
            assert isinstance(kill, dict)
            assert (kill["killed"], kill["reason"], kill["flatten"]) == (True, "kill switch", True)
            assert kill["left_open"] == 0
            assert 0 < kill["cancels_sent_ms"] <= kill["zero_open_ms"]
            code, doc = _answer(["mode", "paper"], env)
            assert (code, doc["reason"]) == (3, "killed")
            stop(engine)

        # A restarted engine is still killed until re-armed.
        with process(["engine"], env):
            eventually(lambda: cli_json(["status", "--json"], env).get("killed") is True, 30)
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)
            assert (code, doc["reason"]) == (3, "killed")
            _ready(env)
            assert _answer(["rearm"], env)[0] == 0
            assert cli_json(["status", "--json"], env)["killed"] is False
            assert _answer(["mode", "paper"], env)[0] == 0


def test_an_unknown_outcome_is_queried_never_resent(tmp_path: Path) -> None:
    """A 503 on order entry: the engine asks the venue by client id and, once the request's
    recvWindow has passed without the venue knowing it, reports it rejected."""
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[live]\nrecv_window_ms = 500\ncountdown_s = 0\n")
        with process(["engine"], env):
            _ready(env)
            assert _answer(["mode", "paper"], env)[0] == 0
            assert _answer(["mode", "live", "--confirm", "LIVE"], env)[0] == 0
            bid = _bid(env, "BTCUSDT")
            request = urllib.request.Request(  # noqa: S310 - loopback
                f"{url}/admin/faults/http?status=503&count=1", method="POST", data=b""
            )
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback
                pass
            code, doc = _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)
            assert (code, doc["reason"]) == (3, "venue_down"), doc
            assert _venue_orders(url) == []
            # The next order goes through normally.
            assert (
                _answer(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env)[0] == 0
            )
            assert len(_venue_orders(url)) == 1


def _lower(price: str, ticks: int, tick: str) -> str:
    """`ticks` ticks under `price`, rounded down onto the tick grid."""
    step = Decimal(tick)
    return str(((Decimal(price) // step - ticks) * step).quantize(step))


def test_cancel_replace_in_paper_and_live(tmp_path: Path) -> None:
    """Replace cancels first and places the new order only once the cancel is confirmed, so
    the two are never live together; a replacement risk would refuse leaves the old order."""
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[live]\ncountdown_s = 0\n")
        with process(["engine"], env):
            _ready(env)
            bid = _bid(env, "BTCUSDT")
            lower = _lower(bid, 5, "0.10")
            for mode, confirm in (("paper", []), ("live", ["--confirm", "LIVE"])):
                assert _answer(["mode", mode, *confirm], env)[0] == 0
                code, doc = _answer(
                    ["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env
                )
                assert code == 0, doc
                old = str(doc["text"]).split()[2 if mode == "paper" else 0].rstrip(":")
                code, doc = _answer(
                    ["order", "replace", old, "--price", lower, "--qty", "0.020"], env
                )
                assert code == 0, doc
                rows = cli_json(["orders", "--json"], env)["orders"]
                assert isinstance(rows, list)
                assert [(o["price"], o["qty"], o["mode"]) for o in rows] == [(lower, "0.020", mode)]
                assert rows[0]["client_id"] != old
                # Into the fat-finger band: refused, and the order stays as it was.
                half = _lower(str((Decimal(bid) / 2).quantize(Decimal("0.01"))), 0, "0.10")
                code, doc = _answer(
                    ["order", "replace", rows[0]["client_id"], "--price", half], env
                )
                assert (code, doc["reason"]) == (3, "price_band"), doc
                code, doc = _answer(["order", "replace", old, "--price", bid], env)
                assert (code, doc["reason"]) == (3, "not_found"), doc
                again = cli_json(["orders", "--json"], env)["orders"]
                assert isinstance(again, list)
                assert [o["client_id"] for o in again] == [rows[0]["client_id"]]
                if mode == "live":
                    venue = _venue_orders(url)
                    assert [
                        (Decimal(str(o["price"])), Decimal(str(o["origQty"]))) for o in venue
                    ] == [(Decimal(lower), Decimal("0.020"))]
                    assert venue[0]["clientOrderId"] == rows[0]["client_id"]
                else:
                    assert _venue_orders(url) == []
            assert _answer(["mode", "observe"], env)[0] == 0
            assert _venue_orders(url) == []


def test_risk_limits_change_live_and_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[risk]\nprice_band_bps = 500\n")
        with process(["engine"], env):
            _ready(env)
            bid = _bid(env, "BTCUSDT", below_bps=100)
            place = ["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid]
            assert _answer(place, env)[0] == 0  # observe: 100 bps from the touch is fine

            _engine_config(env, url, "[risk]\nprice_band_bps = 50\n")
            code, doc = _answer(["risk", "reload"], env)
            assert code == 0, doc
            # The engine's file watcher (it looks every second) may have put the change in
            # force before the command came: then there is nothing left for it to change,
            # and the watcher's audit row has the change instead.
            change = "default.price_band_bps 500.0 -> 50.0"
            text = str(doc["text"])
            assert change in text or (
                text.endswith("no change")
                and any(change in t for t in journal_audit(env, "config"))
            ), (text, journal_audit(env, "config"))
            code, doc = _answer(place, env)
            assert (code, doc["reason"]) == (3, "price_band")

            # A bad file is refused with its reason, and the limits in force stay: by the
            # CLI, which reads the same file, and by the engine (reached here through a
            # good file of the CLI's own).
            _engine_config(env, url, "[risk]\nprice_band_bps = -5\n")
            done = cli(["risk", "reload"], env)
            assert done.returncode == 2
            assert "risk.price_band_bps = -5 is not allowed" in done.stderr
            good = tmp_path / "good.toml"
            good.write_text(f'[venue]\nname = "local"\nurl = "{url}"\n')
            code, doc = _answer(["--config", str(good), "risk", "reload"], env)
            assert (code, doc["reason"]) == (3, "bad_command"), doc
            assert "risk limits kept" in str(doc["text"])
            assert "price_band_bps" in str(doc["text"])
            assert _answer(["--config", str(good), *place], env)[1]["reason"] == "price_band"
            _engine_config(env, url, "[risk]\nprice_band_bps = 500\n")
            assert _answer(["risk", "reload"], env)[0] == 0
            assert _answer(place, env)[0] == 0


def test_the_daily_loss_limit_fires_the_kill_switch(tmp_path: Path) -> None:
    """Paper round trips pay the spread and taker fees; once realized + unrealized - fees
    reaches the limit the engine kills itself, latched, with the reason shown."""
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[risk]\ndaily_loss_limit = 0.5\n")
        with process(["engine"], env):
            _ready(env)
            assert _answer(["mode", "paper"], env)[0] == 0
            market = ["order", "place", "BTCUSDT", "{}", "0.010", "--type", "market"]
            for side in ("buy", "sell"):  # ~0.32 USDT of taker fee each
                code, doc = _answer([part.format(side) for part in market], env)
                if code:
                    break
            eventually(lambda: cli_json(["status", "--json"], env)["killed"] is True, 20)
            status = cli_json(["status", "--json"], env)
            kill = status["kill"]
            assert isinstance(kill, dict)
            assert kill["reason"] == "daily loss limit reached"
            assert status["mode"] == "observe"
            code, doc = _answer([part.format("buy") for part in market], env)
            assert (code, doc["reason"]) == (3, "killed")


def _touch(env: dict[str, str], symbol: str) -> tuple[str, str]:
    doc = orjson.loads(cli(["book", symbol, "--depth", "1", "--json"], env).stdout)
    return str(doc["bids"][0][0]), str(doc["asks"][0][0])


def test_live_orders_resting_at_the_touch_are_filled_by_the_market(tmp_path: Path) -> None:
    """Post-only orders join both sides of the touch; the synthetic market's takers trade
    into one of them, and the engine books the maker fill as the venue did."""
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[live]\ncountdown_s = 0\n")
        with process(["engine"], env):
            _go_live(env)
            ids = []
            for index, side in enumerate(("buy", "sell")):
                # The touch may move before the order lands (a trending market outruns a
                # command a try): each try joins it a tick further back.
                away = Decimal("-0.1") if side == "buy" else Decimal("0.1")
                for attempt in range(10):
                    price = str(Decimal(_touch(env, "BTCUSDT")[index]) + attempt * away)
                    order = ["order", "place", "BTCUSDT", side, "0.002", "--price", price]
                    code, doc = _answer([*order, "--post-only"], env)
                    if doc["reason"] != "post_only":
                        break
                assert code == 0, doc
                ids.append(str(doc["text"]).split()[0])

            def filled() -> dict[str, object] | None:
                rows = cli_json(["orders", "--json"], env)["orders"]
                assert isinstance(rows, list)
                still_open = {str(o["client_id"]) for o in rows}
                done = [cid for cid in ids if cid not in still_open]
                return {"cid": done[0]} if done else None

            eventually(filled, 60, 0.2)

            async def venue_side() -> tuple[list[dict[str, object]], Decimal]:
                client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
                try:
                    trades = await client.request(
                        "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, signed=True, weight=5
                    )
                    rows = await client.position_risk()
                finally:
                    await client.close()
                assert isinstance(trades, list)
                amount = next(
                    Decimal(str(r["positionAmt"])) for r in rows if r["symbol"] == "BTCUSDT"
                )
                return trades, amount

            def engine_position() -> Decimal:
                rows = cli_json(["status", "--json"], env)["symbols"]
                assert isinstance(rows, dict)
                return Decimal(str(rows["BTCUSDT"]["position"]))

            def agreed() -> tuple[list[dict[str, object]], Decimal] | None:
                # The other order may fill meanwhile: both sides agree once quiet.
                trades, amount = asyncio.run(venue_side())
                return (trades, amount) if engine_position() == amount else None

            trades, amount = eventually(agreed, 20, 0.2)
            assert trades
            assert all(t["maker"] for t in trades)
            assert amount in (Decimal("0.002"), Decimal("-0.002"), Decimal(0))  # 0: both filled
            assert _answer(["mode", "observe"], env)[0] == 0  # cancels what still rests


def _meet_own_bid(env: dict[str, str], url: str) -> tuple[str, str]:
    """With the market paused: a post-only bid joins the touch, then a sell at its price for
    more than the level holds with it reaches it. Returns both client ids (the sell's rest
    canceled) once the bid has ended."""
    price = _touch(env, "BTCUSDT")[0]
    bid = ["order", "place", "BTCUSDT", "buy", "0.002", "--price", price, "--post-only"]
    code, answer = _answer(bid, env)
    assert code == 0, answer
    bid_cid = str(answer["text"]).split()[0]
    depth = f"{url}/fapi/v1/depth?symbol=BTCUSDT&limit=5"
    with urllib.request.urlopen(depth) as reply:  # noqa: S310 - loopback URL
        bids = orjson.loads(reply.read())["bids"]
    level = next(Decimal(q) for p, q in bids if Decimal(p) == Decimal(price))
    sell = ["order", "place", "BTCUSDT", "sell", str(level + Decimal("0.050")), "--price", price]
    code, answer = _answer(sell, env)
    assert code == 0, answer
    sell_cid = str(answer["text"]).split()[0]
    assert _answer(["order", "cancel", sell_cid], env)[0] == 0  # its rest, an ask now
    eventually(lambda: _ended(env, bid_cid), 10, 0.05)
    return bid_cid, sell_cid


def _ended(env: dict[str, str], cid: str) -> tuple[str, str] | None:
    rows = journal_rows(env, "SELECT status, reason FROM orders WHERE client_id = ?", cid)
    if not rows or rows[0][0] not in ("FILLED", "CANCELED", "EXPIRED"):
        return None
    return str(rows[0][0]), str(rows[0][1])


def test_own_orders_meet_by_the_self_trade_prevention_configured(tmp_path: Path) -> None:
    """By default (EXPIRE_MAKER) the engine's sell that reaches its own resting bid expires
    the bid and trades on; set to NONE (changed live), the two trade with each other and the
    journal keeps both legs of the venue's one trade id."""
    env = isolated_env(tmp_path)
    # The sell is sized by the level it meets, which deeper in a paused book can be large.
    no_notional_limit = "[risk]\nmax_order_notional = 0\n"
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[live]\ncountdown_s = 0\n" + no_notional_limit)
        with process(["engine"], env):
            _go_live(env)
            # No synthetic flow from here: only the engine's own orders move the book.
            http_post(f"{url}/admin/market/pause")
            time.sleep(0.3)  # the engine's book catches up with the last flow
            bid, sell = _meet_own_bid(env, url)
            assert _ended(env, bid) == ("EXPIRED", "self-trade prevention")
            assert _ended(env, sell) is not None
            assert journal_rows(env, "SELECT side, maker FROM fills WHERE client_id = ?", bid) == []

            stp_none = '[live]\ncountdown_s = 0\nself_trade_prevention = "NONE"\n'
            _engine_config(env, url, stp_none + no_notional_limit)
            in_force = "live.self_trade_prevention EXPIRE_MAKER -> NONE"
            eventually(lambda: any(in_force in t for t in journal_audit(env, "config")), 10, 0.2)
            time.sleep(0.3)
            bid, sell = _meet_own_bid(env, url)
            assert _ended(env, bid) == ("FILLED", "")
            legs = journal_rows(
                env,
                "SELECT b.trade_id FROM fills b JOIN fills s ON b.trade_id = s.trade_id "
                "WHERE b.client_id = ? AND s.client_id = ?",
                bid,
                sell,
            )
            assert len(legs) == 1, legs

            async def venue_legs() -> list[str]:
                client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
                try:
                    rows = await client.request(
                        "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, signed=True, weight=5
                    )
                finally:
                    await client.close()
                assert isinstance(rows, list)
                return sorted(str(t["side"]) for t in rows if t["id"] == legs[0][0])

            assert asyncio.run(venue_legs()) == ["BUY", "SELL"]
            journaled = journal_rows(
                env, "SELECT side, maker FROM fills WHERE trade_id = ? ORDER BY side", legs[0][0]
            )
            assert journaled == [("BUY", 1), ("SELL", 0)]
            http_post(f"{url}/admin/market/resume")
            assert _answer(["mode", "observe"], env)[0] == 0
