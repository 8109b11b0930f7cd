"""End to end: `hftui status` judges each component of a real engine following a real local
exchange; the kill latch makes risk not ready until re-armed, and the exchange going away
makes market data not ready until it is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from hftui.status_components import COMPONENTS
from tests.support.processes import (
    cli,
    cli_json,
    eventually,
    fixed_port_exchange,
    isolated_env,
    process,
)

pytestmark = pytest.mark.e2e


def _status(env: dict[str, str]) -> dict[str, object]:
    doc = cli_json(["status", "--json"], env)
    assert doc["running"], doc
    return doc


def _parts(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    parts = doc["components"]
    assert isinstance(parts, dict)
    return parts


def _when(env: dict[str, str], check: object, timeout_s: float = 30) -> dict[str, object]:
    """The first status document `check(doc)` accepts."""

    def probe() -> dict[str, object] | None:
        doc = cli_json(["status", "--json"], env)
        return doc if doc.get("running") and check(doc) else None  # type: ignore[operator]

    return eventually(probe, timeout_s, 0.2)


def _not_ready(doc: dict[str, object]) -> list[str]:
    return [name for name, part in _parts(doc).items() if not part["ready"]]


def test_components_go_not_ready_and_back(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with fixed_port_exchange(env, tmp_path) as exchange:
        path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'[venue]\nname = "local"\nurl = "{exchange.url}"\n'
            '[engine]\ninstance = "components"\n[metrics]\nport = 0\n'
        )
        with process(["engine"], env) as engine:
            doc = _when(env, lambda d: d["ready"], 40)
            parts = _parts(doc)
            assert list(parts) == list(COMPONENTS)
            for name, part in parts.items():
                assert set(part) == {"live", "ready", "detail"}, name
                assert isinstance(part["detail"], str), name
                assert part["detail"], name
            assert parts["engine"]["live"]
            assert parts["market_data"]["live"]
            assert parts["metrics"]["detail"] == f"listening on {doc['metrics_url']}"
            assert parts["user_stream"]["detail"] == "n/a (observe mode)"
            text = cli(["status"], env).stdout
            assert "ready    yes" in text
            for name in COMPONENTS:
                assert f"  {name} " in text, text

            # The kill latch: risk is up but not ready, and so is the engine as a whole.
            assert cli(["kill"], env).returncode == 0
            doc = _when(env, lambda d: not d["ready"])
            assert _not_ready(doc) == ["risk"]
            assert _parts(doc)["risk"]["live"] is True
            assert "killed" in str(_parts(doc)["risk"]["detail"])
            text = cli(["status"], env).stdout
            assert "ready    NO" in text
            risk_line = next(line for line in text.splitlines() if line.startswith("  risk "))
            assert risk_line.split()[1:3] == ["NOT", "READY"], risk_line
            assert cli(["rearm"], env).returncode == 0
            _when(env, lambda d: d["ready"])

            # The venue goes away: the stream drops and the books go stale or down.
            exchange.kill()
            doc = _when(env, lambda d: "market_data" in _not_ready(d))
            market = _parts(doc)["market_data"]
            assert market["ready"] is False
            assert "BTCUSDT" in str(market["detail"]), market
            assert _parts(doc)["engine"]["ready"] is True  # the engine itself carries on

            exchange.start()
            _when(env, lambda d: d["ready"], 60)
            assert engine.poll() is None
