"""The kill-switch latch, persisted so that a restarted engine is still killed.

Owns: whether trading is killed, when, why, and whether flattening was asked. The latch is
a small JSON file in the data dir, replaced atomically and fsynced before `fire` returns, so
a crash right after a kill cannot come back armed. Only an explicit `rearm` clears it. A
latch file that cannot be read counts as killed; one that cannot be written leaves the
engine killed in memory and says so (`save_error`). The cancelling and flattening are the
execution component's job; this is only the latch.
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

__all__ = ["KillLatchError", "KillState", "KillSwitch", "latch_path"]

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


class KillLatchError(OSError):
    """The latch could not be persisted; the message names the file and the cause."""


def _parse(body: bytes) -> KillState:
    """The latch in `body`, strictly: anything but the exact shape `_save` writes raises.

    Lenient coercion would be unsafe here: `bool(None)` or `bool(0)` from a damaged file
    would read as "armed".
    """
    raw = orjson.loads(body)
    if not isinstance(raw, dict):
        raise TypeError(f"expected a JSON object, found {type(raw).__name__}")
    killed, at_ns, reason, flatten = raw["killed"], raw["at_ns"], raw["reason"], raw["flatten"]
    if not isinstance(killed, bool) or not isinstance(flatten, bool):
        raise TypeError("killed and flatten must be true or false")
    if not isinstance(at_ns, int) or isinstance(at_ns, bool) or at_ns < 0:
        raise TypeError("at_ns must be a non-negative integer")
    if not isinstance(reason, str):
        raise TypeError("reason must be a string")
    return KillState(killed, at_ns, reason, flatten)


class KillSwitch:
    """The latch of one engine instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.save_error = ""  # why the newest state is not on disk; "" once it is
        self.state = self._load()

    @property
    def killed(self) -> bool:
        return self.state.killed

    def _load(self) -> KillState:
        try:
            return _parse(self.path.read_bytes())
        except FileNotFoundError:
            return KillState()
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # A latch we cannot read is a latch we must assume fired: fail safe.
            reason = f"latch file {self.path} unreadable: {exc}"
            log.error("kill latch unreadable; staying killed", extra={"error": reason})
            return KillState(True, time.time_ns(), reason[:200], False)

    def _save(self, state: KillState) -> None:
        """Write `state` to a temporary file, fsync it, rename it over the latch.

        A crash at any point leaves either the old latch or the new one, never a torn file.

        Raises:
            KillLatchError: the file could not be written; the old latch (if any) is intact.
        """
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = orjson.dumps(
            {
                "killed": state.killed,
                "at_ns": state.at_ns,
                "reason": state.reason,
                "flatten": state.flatten,
            }
        )
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                # A temporary file left by an earlier crash keeps its old mode through
                # O_CREAT; the latch must be owner-only regardless.
                os.fchmod(fd, 0o600)
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise KillLatchError(
                f"cannot persist the kill latch to {self.path}: {exc.strerror or exc}"
            ) from exc
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def fire(self, reason: str, flatten: bool) -> bool:
        """Latch (again, if already killed: the newest reason wins) and persist.

        Never raises: the caller is in the middle of cancelling everything and must carry
        on. The latch holds in memory even when the file cannot be written; the failure is
        logged and kept in `save_error`.

        Returns:
            True when the latch is on disk (a restart would still be killed).
        """
        self.latch(reason, flatten)
        return self.persist()

    def latch(self, reason: str, flatten: bool) -> None:
        """The in-memory half of `fire`: killed from now on, instantly; `persist` follows
        (on a thread, so that the fsync does not hold up the cancels)."""
        self.state = KillState(True, time.time_ns(), reason[:200], flatten)
        log.warning("kill switch latched", extra={"reason": reason, "flatten": flatten})

    def persist(self) -> bool:
        """Write the latch as it is now; never raises (see `fire`).

        Returns:
            True when it is on disk.
        """
        try:
            self._save(self.state)
        except KillLatchError as exc:
            self.save_error = f"{exc}; killed in memory only, a restart would come back armed"
            log.critical("kill latch not persisted", extra={"error": self.save_error})
            return False
        self.save_error = ""
        return True

    def rearm(self) -> bool:
        """Clear the latch; False if it was not set.

        The cleared latch is written first and only then cleared in memory, so a failed
        write leaves the engine killed, matching the file.

        Raises:
            KillLatchError: the cleared latch could not be written; still killed.
        """
        if not self.state.killed:
            return False
        self._save(KillState())
        self.state = KillState()
        self.save_error = ""
        log.warning("kill switch re-armed")
        return True
