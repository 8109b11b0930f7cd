"""Config hot reload: the engine's config file is watched, and what is safe to change live
is put in force when the file changes.

Safe live: the risk limits, the log level, which strategies run and their parameters, how
reconciliation runs, self-trade prevention, and how often books are verified against the
venue's. Everything else (venue, symbols, mode, instance, ports ...) needs a restart: such a
change is announced and left for the next start. A file that does not load (bad TOML, a value
out of range, an unknown key) is refused with the loader's error, and the config in force
stays, whole. Every change, refusal and pending restart is audited.

Owns: the file's last seen stamp. The config itself stays the engine's; `apply` gets the
new config and the safe keys that changed, and returns what it could not apply.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from hftui.config import Config, ConfigError, differences

__all__ = ["LIVE_SAFE", "ConfigWatcher"]

log = logging.getLogger(__name__)

# Dotted config keys (or their prefixes, ending in ".") that can change under a running engine.
LIVE_SAFE: Final = (
    "risk.",
    "logging.level",
    "strategies.enabled",
    "strategies.params",
    "strategies.callback_budget_ms",
    "live.on_mismatch",
    "live.reconcile_interval_s",
    "live.self_trade_prevention",
    "market.verify_interval_s",
)


def is_live_safe(key: str) -> bool:
    return any(key.startswith(p) if p.endswith(".") else key == p for p in LIVE_SAFE)


class ConfigWatcher:
    def __init__(
        self,
        path: Path,
        load: Callable[[], Config],
        current: Callable[[], Config],
        apply: Callable[[Config, list[str]], list[str]],
        notify: Callable[[int, str], None],
        audit: Callable[[str], None],
        interval_s: float = 1.0,
    ) -> None:
        self.path = path
        self.load = load
        self.current = current
        self.apply = apply
        self.notify = notify
        self.audit = audit
        self.interval_s = interval_s
        self.refused = 0
        self.reloads = 0
        self._stamp = self._read_stamp()

    def _read_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            stamp = self._read_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                self.check()

    def check(self) -> list[str]:
        """Load the file and put its safe changes in force; returns the keys applied."""
        try:
            fresh = self.load()
        except (ConfigError, OSError, ValueError) as exc:
            self.refused += 1
            text = f"config change refused, the running config stays: {exc}"
            log.warning(text)
            self.audit(text)
            self.notify(logging.WARNING, text)
            return []
        changed = differences(self.current(), fresh)
        if not changed:
            return []
        safe = [key for key, _, _ in changed if is_live_safe(key)]
        failed = set(self.apply(fresh, safe)) if safe else set()
        applied: list[str] = []
        for key, old, new in changed:
            if key in safe and key not in failed:
                applied.append(key)
                self.audit(f"config: {key} {old} -> {new}")
        later = [key for key, _, _ in changed if key not in applied]
        self.reloads += 1
        parts = []
        if applied:
            parts.append("in force: " + ", ".join(applied))
        if later:
            parts.append("needs a restart: " + ", ".join(later))
            self.audit("config: needs a restart: " + ", ".join(later))
        text = "config reloaded; " + "; ".join(parts)
        log.info(text)
        self.notify(logging.WARNING if later else logging.INFO, text)
        return applied
