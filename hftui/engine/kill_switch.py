"""The kill-switch latch, persisted so that a restarted engine is still killed.

Owns: whether trading is killed, when, why, and whether flattening was asked. The latch is
a small JSON file in the data dir, replaced atomically and fsynced before `fire` returns, so
a crash right after a kill cannot come back armed. Only an explicit `rearm` clears it. The
cancelling and flattening are the execution component's job; this is only the latch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from hftui.paths import data_dir

__all__ = ["KillState", "KillSwitch", "latch_path"]

log = logging.getLogger(__name__)


def latch_path(instance: str) -> Path:
    state = data_dir() / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    return state / f"{instance}.kill.json"


@dataclass(frozen=True, slots=True)
class KillState:
    killed: bool = False
    at_ns: int = 0  # wall clock of the kill
    reason: str = ""
    flatten: bool = False


class KillSwitch:
    """The latch of one engine instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = self._load()

    @property
    def killed(self) -> bool:
        return self.state.killed

    def _load(self) -> KillState:
        try:
            raw = orjson.loads(self.path.read_bytes())
            return KillState(
                bool(raw["killed"]), int(raw["at_ns"]), str(raw["reason"]), bool(raw["flatten"])
            )
        except FileNotFoundError:
            return KillState()
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # A latch we cannot read is a latch we must assume fired: fail safe.
            log.error("kill latch unreadable; staying killed", extra={"error": str(exc)})
            return KillState(True, time.time_ns(), f"latch file unreadable: {exc}", False)

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        body = orjson.dumps(
            {
                "killed": self.state.killed,
                "at_ns": self.state.at_ns,
                "reason": self.state.reason,
                "flatten": self.state.flatten,
            }
        )
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def fire(self, reason: str, flatten: bool) -> None:
        """Latch (again, if already killed: the newest reason wins) and persist."""
        self.state = KillState(True, time.time_ns(), reason[:200], flatten)
        self._save()
        log.warning("kill switch latched", extra={"reason": reason, "flatten": flatten})

    def rearm(self) -> bool:
        """Clear the latch; False if it was not set."""
        if not self.state.killed:
            return False
        self.state = KillState()
        self._save()
        log.warning("kill switch re-armed")
        return True
