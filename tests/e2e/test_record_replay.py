"""Record a live venue, replay it through the engine path and as the exchange's market."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from hftui.exchange.main import ExchangeConfig, start
from hftui.recording import Recorder, read_recording
from tests.support.processes import cli, isolated_env, local_exchange

pytestmark = pytest.mark.e2e


def test_record_then_replay_rebuilds_the_venue_book(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    recorded = tmp_path / "recording"
    with local_exchange(env, tmp_path, seed=31) as url:
        config = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(f'[venue]\nname = "local"\nurl = "{url}"\n')
        done = cli(
            ["record", "--symbols", "BTCUSDT", "--out", str(recorded), "--seconds", "3"], env
        )
        assert done.returncode == 0, done.stderr
        assert "recorded" in done.stdout
    out = _up_to_last_depth_update(recorded, tmp_path / "trimmed")
    replayed = cli(["replay", "--data", str(out), "--json"], env)
    assert replayed.returncode == 0, replayed.stderr
    report = orjson.loads(replayed.stdout)
    assert report["frames"] > 20
    assert report["snapshots"] >= 1
    assert report["bad_frames"] == 0
    btc = report["symbols"]["BTCUSDT"]
    assert btc["synced"] is True
    assert btc["gaps"] == 0
    assert btc["trades"] > 0
    assert float(btc["best_bid"]) < float(btc["best_ask"])
    _exchange_replay_agrees(out, btc)


def _up_to_last_depth_update(recorded: Path, out: Path) -> Path:
    """A copy of the recording that ends on its last depth diff.

    A trade recorded after the last diff takes liquidity from the exchange's replayed book at
    once, while a depth-only view sees it in the next diff, which the recording cut off: the
    two books may then differ by that trade, correctly.
    """
    lines = list(read_recording(recorded))
    last = max(i for i, (_, _, payload) in enumerate(lines) if b'"depthUpdate"' in payload)
    writer = Recorder(out)
    for recv_ns, channel, payload in lines[: last + 1]:
        writer.write(recv_ns, channel, payload)
    writer.close()
    return out


def _exchange_replay_agrees(out: Path, engine_view: dict[str, object]) -> None:
    async def run() -> dict[str, object]:
        running = await start(
            ExchangeConfig(port=0, symbols=("BTCUSDT",), replay=out, replay_speed=40.0)
        )
        try:
            market = running.venue.symbols["BTCUSDT"].market
            for _ in range(200):
                if getattr(market, "finished", False):
                    break
                await asyncio.sleep(0.05)
            assert getattr(market, "finished", False), "the replay did not finish"
            return running.venue.depth("BTCUSDT", 5)
        finally:
            await running.stop()

    depth = asyncio.run(run())
    bids, asks = depth["bids"], depth["asks"]
    assert isinstance(bids, list)
    assert isinstance(asks, list)
    # The exchange, replaying the recording as its market, ends on the book the engine rebuilt.
    assert bids[0][0] == engine_view["best_bid"]
    assert asks[0][0] == engine_view["best_ask"]


def test_bad_replay_inputs_are_refused(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    done = cli(["replay", "--data", str(tmp_path / "none")], env)
    assert done.returncode == 2
    assert "no recording" in done.stderr
    done = cli(["exchange", "--port", "0", "--replay", str(tmp_path / "none")], env)
    assert done.returncode == 2
    assert "cannot replay" in done.stderr
