"""End to end: editing the config file under a running engine puts the risk limits in force
without a command, and a broken file is refused while the limits in force stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_trading import _answer, _bid, _engine_config, _ready
from tests.support.processes import (
    cli_json,
    eventually,
    isolated_env,
    journal_audit,
    local_exchange,
    process,
)

pytestmark = pytest.mark.e2e


def test_an_edited_config_file_changes_the_risk_limits_live(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url)
        with process(["engine"], env):
            _ready(env)
            order = ["order", "place", "BTCUSDT", "buy", "0.010", "--price", _bid(env, "BTCUSDT")]
            assert _answer(order, env)[0] == 0  # observe: would send

            _engine_config(env, url, "[risk]\nmax_order_notional = 150\n")
            eventually(lambda: _answer(order, env)[1]["reason"] == "max_notional", 10, 0.2)
            assert any(
                "max_order_notional 50000.0 -> 150.0" in t for t in journal_audit(env, "config")
            )

            # The engine's file breaks; this CLI reads a good copy (it needs the instance).
            path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
            good = tmp_path / "good.toml"
            good.write_text(path.read_text())
            path.write_text(path.read_text() + "[risk\n")
            eventually(lambda: any("refused" in t for t in journal_audit(env, "config")), 10, 0.2)
            refused = _answer(["--config", str(good), *order], env)[1]
            assert refused["reason"] == "max_notional"  # the limit in force stays


def test_book_verification_is_turned_on_live(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _engine_config(env, url, "[market]\nverify_interval_s = 0\n")  # off
        with process(["engine"], env):
            _ready(env)

            def runs() -> int:
                symbols = cli_json(["status", "--json"], env)["symbols"]
                assert isinstance(symbols, dict)
                return sum(int(s["verify_runs"]) for s in symbols.values())

            assert runs() == 0
            _engine_config(env, url, "[market]\nverify_interval_s = 1\n")
            eventually(lambda: runs() > 0 or None, 20, 0.2)
            audit = journal_audit(env, "config")
            assert any("market.verify_interval_s" in t for t in audit), audit
