"""Config hot reload over real files: safe keys are put in force and audited, a bad file is
refused whole with the loader's reason, and keys that need a restart are named."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hftui.config import Config, load_config
from hftui.engine.config_watch import ConfigWatcher, is_live_safe


class Engine:
    """What a watcher talks to: the config in force and the places a change shows."""

    def __init__(self, path: Path, refuse: tuple[str, ...] = ()) -> None:
        self.config = load_config(path)
        self.refuse = refuse
        self.applied: list[list[str]] = []
        self.alerts: list[tuple[int, str]] = []
        self.audit: list[str] = []
        self.watcher = ConfigWatcher(
            path,
            lambda: load_config(path),
            lambda: self.config,
            self.apply,
            lambda level, text: self.alerts.append((level, text)),
            self.audit.append,
            interval_s=0.01,
        )

    def apply(self, fresh: Config, keys: list[str]) -> list[str]:
        self.applied.append(keys)
        failed = [k for k in keys if k in self.refuse]
        if not failed:
            self.config = fresh
        return failed


def _write(path: Path, notional: int, level: str = "INFO", symbols: str = "") -> None:
    market = f"[market]\nsymbols = [{symbols}]\n" if symbols else ""
    path.write_text(
        f'{market}[risk]\nmax_order_notional = {notional}\n[logging]\nlevel = "{level}"\n'
    )


def test_safe_keys_are_put_in_force_and_audited(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    _write(path, 50000)
    engine = Engine(path)
    _write(path, 1000, "DEBUG")
    assert engine.watcher.check() == ["logging.level", "risk.default.max_order_notional"]
    assert engine.config.risk.default.max_order_notional == 1000
    assert engine.audit == [
        "config: logging.level INFO -> DEBUG",
        "config: risk.default.max_order_notional 50000.0 -> 1000.0",
    ]
    assert engine.alerts[-1][0] == logging.INFO
    assert engine.watcher.check() == []  # nothing changed since


def test_a_bad_file_is_refused_and_the_config_in_force_stays(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    _write(path, 50000)
    engine = Engine(path)
    before = engine.config
    path.write_text("[risk]\nmax_order_notional = -5\n")
    assert engine.watcher.check() == []
    path.write_text("[risk\nbroken")
    assert engine.watcher.check() == []
    assert engine.config is before
    assert engine.applied == []
    assert engine.watcher.refused == 2
    assert all(level == logging.WARNING for level, _ in engine.alerts)
    assert "max_order_notional" in engine.alerts[0][1]
    assert all(
        a.startswith("config change refused, the running config stays") for a in engine.audit
    )


def test_restart_keys_are_named_and_an_apply_refusal_is_not_audited_as_done(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    _write(path, 50000)
    engine = Engine(path, refuse=("risk.default.max_order_notional",))
    _write(path, 2000, symbols='"BTCUSDT"')
    assert engine.watcher.check() == []
    assert (
        "config: needs a restart: market.symbols, risk.default.max_order_notional" in engine.audit
    )
    assert engine.alerts[-1][0] == logging.WARNING
    assert not is_live_safe("market.symbols")
    assert is_live_safe("risk.symbols")
    assert is_live_safe("strategies.params")


def test_the_watcher_notices_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    _write(path, 50000)
    engine = Engine(path)

    async def scenario() -> None:
        task = asyncio.create_task(engine.watcher.run())
        await asyncio.sleep(0.05)
        _write(path, 123)
        for _ in range(200):
            if engine.applied:
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert engine.config.risk.default.max_order_notional == 123
