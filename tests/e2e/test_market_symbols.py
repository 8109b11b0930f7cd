"""End to end: symbols followed and dropped while the engine runs (`hftui market add|remove`).

The exchange lists three symbols, the engine starts with two. Adding the third syncs its
book (level for level the venue's), its trades and mark price, and makes it tradable under
the default risk limits; dropping it is refused while it has an open order, and once done
its late frames are not counted as bad input. The other books never notice.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.support.processes import (
    cli,
    eventually,
    http_get,
    http_post,
    isolated_env,
    local_exchange,
    process,
)

pytestmark = pytest.mark.e2e


def _json(args: list[str], env: dict[str, str]) -> tuple[int, dict[str, object]]:
    done = cli([*args, "--json"], env)
    assert done.stdout, done.stderr
    doc = orjson.loads(done.stdout)
    assert isinstance(doc, dict)
    return done.returncode, doc


def _status(env: dict[str, str]) -> dict[str, object]:
    return _json(["status"], env)[1]


def _symbols(env: dict[str, str]) -> dict[str, dict[str, object]]:
    symbols = _status(env)["symbols"]
    assert isinstance(symbols, dict)
    return symbols


def _live(env: dict[str, str], symbol: str) -> dict[str, object] | None:
    """The symbol's status once its book is synced and its mark price in."""
    s = _symbols(env).get(symbol)
    return s if s is not None and s["synced"] and s["mark_price"] else None


def _without(env: dict[str, str], symbol: str) -> dict[str, object] | None:
    """The status once the symbol is gone from it."""
    status = _status(env)
    return status if symbol not in status["symbols"] else None  # type: ignore[operator]


def test_a_symbol_added_and_removed_at_run_time(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path, symbols="BTCUSDT,ETHUSDT,SOLUSDT") as url:
        path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'[venue]\nname = "local"\nurl = "{url}"\n[market]\nsymbols = ["BTCUSDT", "ETHUSDT"]\n'
        )
        with process(["engine"], env):
            eventually(
                lambda: all(s["synced"] for s in _symbols(env).values()) or None, timeout_s=30
            )
            eventually(lambda: _json(["mode", "paper"], env)[0] == 0 or None, timeout_s=30)
            before = _status(env)
            symbols = before["symbols"]
            assert isinstance(symbols, dict)
            assert list(symbols) == ["BTCUSDT", "ETHUSDT"]

            # Refusals say why and change nothing.
            status, answer = _json(["market", "add", "XRPUSDT"], env)
            assert (status, answer["reason"]) == (3, "unknown_symbol"), answer
            status, answer = _json(["market", "add", "BTCUSDT"], env)
            assert status == 3
            assert "already followed" in str(answer["text"])

            status, answer = _json(["market", "add", "solusdt"], env)
            assert (status, answer["ok"]) == (0, True), answer
            sol = eventually(lambda: _live(env, "SOLUSDT"), timeout_s=15)
            assert sol["feed_state"] == "live"

            # Its book is the venue's, level for level.
            http_post(f"{url}/admin/market/pause")
            try:
                venue = http_get(f"{url}/fapi/v1/depth?symbol=SOLUSDT&limit=20")

                def caught_up() -> dict[str, object] | None:
                    doc = orjson.loads(
                        cli(["book", "SOLUSDT", "--depth", "20", "--json"], env).stdout
                    )
                    return doc if doc["last_update_id"] == venue["lastUpdateId"] else None

                book = eventually(caught_up, timeout_s=10)
                assert (book["bids"], book["asks"]) == (venue["bids"], venue["asks"])
                best_bid = float(book["bids"][0][0])  # type: ignore[index]
            finally:
                http_post(f"{url}/admin/market/resume")

            # Tradable: a paper order rests; the symbol cannot be dropped under it.
            price = f"{best_bid * 0.99:.2f}"
            status, answer = _json(["order", "place", "SOLUSDT", "buy", "5", "--price", price], env)
            assert status == 0, answer
            status, answer = _json(["market", "remove", "SOLUSDT"], env)
            assert (status, answer["reason"]) == (3, "busy"), answer
            assert "open order" in str(answer["text"])
            status, answer = _json(["order", "cancel-all", "SOLUSDT"], env)
            assert status == 0, answer

            status, answer = _json(["market", "remove", "SOLUSDT"], env)
            assert (status, answer["ok"]) == (0, True), answer
            after = eventually(lambda: _without(env, "SOLUSDT"), timeout_s=5)
            # The others carried on untouched, and SOLUSDT's frames still in flight when it
            # was dropped were not bad input.
            for name in ("BTCUSDT", "ETHUSDT"):
                old, new = before["symbols"][name], after["symbols"][name]  # type: ignore[index]
                assert new["synced"]
                assert (new["gaps"], new["resyncs"]) == (old["gaps"], old["resyncs"])
                assert new["last_update_id"] > old["last_update_id"]
            assert after["bad_frames"] == before["bad_frames"]
            assert after["reconnects"] == before["reconnects"]
