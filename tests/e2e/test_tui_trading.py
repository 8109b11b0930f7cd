"""The TUI's trading keys against the real engine and the real local exchange: the app runs
in-process under Textual's pilot, attached to an engine process exactly as `hftui attach`
attaches, and the exchange's own records prove what the keys did."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from textual.pilot import Pilot

from hftui.app import HftuiApp
from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient
from hftui.instance import find_running
from hftui.link import EngineLink
from hftui.protocol import Mode
from hftui.remote import EngineControl
from tests.support.processes import cli, eventually, isolated_env, local_exchange, process

pytestmark = pytest.mark.e2e


async def _venue_orders(url: str) -> list[dict[str, object]]:
    client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
    try:
        return await client.open_orders()
    finally:
        await client.close()


async def _until(
    pilot: Pilot[str], condition: Callable[[], object], timeout_s: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def _bid(env: dict[str, str], symbol: str) -> str:
    doc = orjson.loads(cli(["book", symbol, "--depth", "1", "--json"], env).stdout)
    best = str(doc["bids"][0][0])
    tick = 10 if symbol == "BTCUSDT" else 1  # in units of the last decimal shown
    whole, _, frac = best.partition(".")
    units = int(whole + frac)
    far = units - units // 100  # 1 % under the touch: resting, inside the band
    far -= far % tick
    text = str(far)
    return f"{text[: -len(frac)]}.{text[-len(frac) :]}"


async def test_mode_keys_kill_and_rearm_from_the_tui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = isolated_env(tmp_path)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, env[name])  # this process finds the engine as the TUI does
    monkeypatch.delenv("HFTUI_CONFIG", raising=False)
    with local_exchange(env, tmp_path) as url:
        config = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f'[venue]\nname = "local"\nurl = "{url}"\n[live]\ncountdown_s = 0\n')
        with process(["engine"], env):
            info = eventually(lambda: find_running("default"), 60)
            link = EngineLink.open(info)
            control = EngineControl(info)
            app = HftuiApp(link, spawned=False, refresh_hz=20, control=control)
            try:
                async with app.run_test(size=(100, 30)) as pilot:
                    await _until(
                        pilot,
                        lambda: (
                            app.view.alive
                            and app.view.has_keys
                            and len(app.view.symbols) == 2
                            and all(s.synced for s in app.view.symbols)
                        ),
                        60,
                    )
                    # Up two steps at once: the dialog says so before the word is typed,
                    # and the engine refuses it from a shell all the same.
                    await pilot.press("m", "l")
                    error = app.screen.query_one("#mode-error").render()
                    assert "one step at a time" in str(error)
                    await pilot.press("escape")
                    refused = cli(["mode", "live", "--confirm", "LIVE", "--json"], env)
                    assert refused.returncode != 0
                    assert orjson.loads(refused.stdout)["reason"] == "mode_step"
                    assert app.view.mode is Mode.OBSERVE
                    await pilot.press("m", "p")
                    await _until(pilot, lambda: app.view.mode is Mode.PAPER)
                    await pilot.press("m", "l", *"LIVE", "enter")
                    await _until(pilot, lambda: app.view.mode is Mode.LIVE)

                    # Orders on two symbols (entered from a second session), then ctrl+k.
                    for symbol, qty in (("BTCUSDT", "0.010"), ("ETHUSDT", "0.100")):
                        price = _bid(env, symbol)
                        done = cli(["order", "place", symbol, "buy", qty, "--price", price], env)
                        assert done.returncode == 0, done.stdout + done.stderr
                    assert len(await _venue_orders(url)) == 2
                    await pilot.press("ctrl+k")
                    await _until(pilot, lambda: app.view.killed and app.view.mode is Mode.OBSERVE)
                    await _until(
                        pilot,
                        lambda: app.notice is not None and "zero open orders" in app.notice.text,
                    )
                    assert await _venue_orders(url) == []
                    assert "KILLED" in app.dashboard.banner.text

                    # Up is refused while killed; re-arm asks, then clears the latch.
                    await pilot.press("m", "p")
                    await _until(
                        pilot, lambda: app.notice is not None and "KILLED" in app.notice.line
                    )
                    await pilot.press("R", "n")
                    await pilot.pause(0.3)
                    assert app.view.killed
                    await pilot.press("R", "y")
                    await _until(pilot, lambda: not app.view.killed)
                    assert app.view.mode is Mode.OBSERVE
            finally:
                control.close()
                link.close()
