"""A client's handle on a running engine: send commands, read their answers.

Used by the CLI (one command per process) and the TUI. Commands go on the engine's command
ring; the engine is nudged with SIGUSR1 so it looks at once instead of at its next poll; the
answer is the `CommandAnswered` event with the same request id on the event ring.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from hftui.instance import InstanceInfo, command_lock_path, pid_alive
from hftui.protocol import Command, CommandAnswered, Event
from hftui.rings import (
    EVENT_CAPACITY,
    CommandSender,
    EventReader,
    RingError,
    command_segment_name,
    event_segment_name,
)

__all__ = ["EngineControl", "RingError"]

# How often a waiting client checks that the engine still lives (a kill -9 sends no goodbye).
_ALIVE_CHECK_S = 0.1


class EngineControl:
    """Command sender and event reader of one engine instance.

    Raises:
        RingError: the engine's rings are not there (an engine too old, or stopping).
    """

    def __init__(self, info: InstanceInfo) -> None:
        self.info = info
        self.events = EventReader(event_segment_name(info.instance, info.pid))
        try:
            self.sender = CommandSender(
                command_segment_name(info.instance, info.pid), command_lock_path(info.instance)
            )
        except RingError:
            self.events.close()
            raise
        self._pending: list[Event] = []

    def send(self, command: Command, sent_ns: int | None = None) -> int:
        """Queue `command`; returns its request id. `sent_ns` is the CLOCK_MONOTONIC of the key
        press that asked for it (now by default): the engine times a kill from it.

        Raises:
            ValueError: a field too long for the record.
            RingFullError: the engine is not reading commands.
        """
        request_id = self.sender.send(command, sent_ns)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.info.pid, signal.SIGUSR1)
        return request_id

    def poll(self) -> tuple[list[Event], bool]:
        """Events since the last poll (and whether this reader was overrun)."""
        events, overrun = self.events.poll()
        if self._pending:
            events, self._pending = self._pending + events, []
        return events, overrun

    def wait_answer(self, request_id: int, timeout_s: float) -> CommandAnswered | None:
        """Block until the engine answers `request_id`; None after `timeout_s`. Every other
        event read meanwhile stays queued for `poll` (and for later `wait_answer` calls).

        Raises:
            RingError: the engine died while we waited (no answer can come).
        """
        deadline = time.monotonic() + timeout_s
        checked = time.monotonic()
        while True:
            for k, event in enumerate(self._pending):
                if isinstance(event, CommandAnswered) and event.request_id == request_id:
                    del self._pending[k]
                    return event
            now = time.monotonic()
            if now >= deadline:
                return None
            if now - checked >= _ALIVE_CHECK_S:
                checked = now
                if not pid_alive(self.info.pid):
                    raise RingError(f"the engine (pid {self.info.pid}) stopped before answering")
            events, _ = self.events.poll()
            if events:
                # Bounded: a caller that never polls keeps the newest ring's worth.
                self._pending = [*self._pending, *events][-EVENT_CAPACITY:]
            else:
                time.sleep(0.002)

    def request(self, command: Command, timeout_s: float = 10.0) -> CommandAnswered | None:
        return self.wait_answer(self.send(command), timeout_s)

    def close(self) -> None:
        self.sender.close()
        self.events.close()
