"""End to end: the engine as a real process on a real local exchange runs the example market
maker (from `strategies/`) and a copy of it from the config's extra path; in observe mode the
first's quotes show as "would send" intents, and the second, over its risk budget, is refused
by risk. Both read from the engine's event ring, as the TUI does."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from hftui.protocol import AlertRaised, OrderChanged, OrderStatus, Reason
from hftui.rings import EventReader, event_segment_name
from tests.support.processes import cli, cli_json, eventually, isolated_env, local_exchange, process

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_strategy_intents_show_in_observe_and_a_budget_is_enforced(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    extra = tmp_path / "my_strategies"
    extra.mkdir()
    shutil.copy(ROOT / "strategies" / "market_maker.py", extra / "mm_btc.py")
    with local_exchange(env, tmp_path) as url:
        path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'[venue]\nname = "local"\nurl = "{url}"\n'
            "[risk.budgets]\nmm_btc = 1.0\n"
            f'[strategies]\nenabled = ["market_maker", "mm_btc"]\npath = "{extra}"\n'
            '[strategies.params.mm_btc]\nsymbol = "BTCUSDT"\nqty = "0.002"\n'
        )
        with process(["engine"], env) as engine:
            status = eventually(
                lambda: (doc := cli_json(["status", "--json"], env)).get("running") and doc, 30
            )
            assert isinstance(status, dict)
            reader = eventually(
                lambda: EventReader(
                    event_segment_name("default", int(str(status["engine_pid"]))), from_start=True
                ),
                10,
            )
            would_send: list[str] = []
            refused: list[OrderChanged] = []
            deadline = time.monotonic() + 40
            try:
                while time.monotonic() < deadline and not (would_send and refused):
                    events, _ = reader.poll()
                    for event in events:
                        if isinstance(event, AlertRaised) and "would send" in event.text:
                            would_send.append(event.text)
                        if (
                            isinstance(event, OrderChanged)
                            and event.status == OrderStatus.REJECTED
                            and event.reason == Reason.STRATEGY_BUDGET
                        ):
                            refused.append(event)
                    time.sleep(0.05)
            finally:
                reader.close()
            assert engine.poll() is None, engine.stderr.read() if engine.stderr else ""
            assert any(
                "ETHUSDT" in t and "post-only" in t and t.endswith("[market_maker]")
                for t in would_send
            ), would_send
            assert refused, "no budget refusal seen"
            assert "strategy mm_btc" in refused[0].text, refused
            assert refused[0].symbol == "BTCUSDT"
            done = cli(["status", "--json"], env)
            assert done.returncode == 0
