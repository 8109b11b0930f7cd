"""Fault switches for tests, driven over the loopback admin API.

Owns: which faults are armed. The hub, the venue and the REST middleware consult it; nothing
here touches connections or books directly, except `drop_all`, which closes sockets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["USER_DATA_STREAM", "Faults"]

# The name the stall fault uses for every account's user-data events (their stream names are
# listen keys, which a test does not know).
USER_DATA_STREAM = "userData"


@dataclass(slots=True)
class Faults:
    # Streams whose name contains a key: stalled (frames dropped) until a monotonic time.
    stalled: dict[str, float] = field(default_factory=dict)
    # Streams whose name contains a key: each frame delivered this many seconds late.
    delayed: dict[str, float] = field(default_factory=dict)
    skip_depth: dict[str, int] = field(default_factory=dict)  # symbol -> events to drop
    duplicate_depth: dict[str, int] = field(default_factory=dict)  # symbol -> events to send twice
    # symbol -> events that also say the best bid level is gone while the venue keeps it: the
    # update-id chain stays intact, so only a cross-check against bookTicker can notice.
    corrupt_depth: dict[str, int] = field(default_factory=dict)
    # Levels the diff stream was told a wrong quantity for, once each, while the venue's book
    # kept the right one (see admin's depth-wrong-qty): newest last, for the test to read.
    wrong_levels: list[dict[str, object]] = field(default_factory=list)
    http_status: int = 0  # answer the next `http_count` REST requests with this status
    http_count: int = 0
    http_delay_s: float = 0.0  # hold the next `http_count` REST requests this long
    http_code: int = 0  # the error code of the injected answer; 0: one fitting the status
    http_retry_after_s: int = 0  # a Retry-After header on the injected answer; 0: none
    # Only requests to this path (and with this method, when set) take the fault: the order
    # endpoint can fail while the client's other calls go through.
    http_path: str = ""
    http_method: str = ""

    def is_stalled(self, stream: str) -> bool:
        if not self.stalled:
            return False
        now = time.monotonic()
        for key, until in list(self.stalled.items()):
            if until <= now:
                del self.stalled[key]
            elif key in stream:
                return True
        return False

    def delay_for(self, stream: str) -> float:
        for key, seconds in self.delayed.items():
            if key in stream:
                return seconds
        return 0.0

    def take_http_fault(self, method: str = "", path: str = "") -> tuple[int, float]:
        """(status to answer or 0, seconds to wait) for a REST request to `method path`."""
        if self.http_count <= 0:
            return 0, 0.0
        if self.http_path and path != self.http_path:
            return 0, 0.0
        if self.http_method and method != self.http_method:
            return 0, 0.0
        self.http_count -= 1
        return self.http_status, self.http_delay_s

    def take_depth(self, symbol: str) -> int:
        """How many times to send this symbol's next depth event: 0 (a gap), 1 or 2."""
        if self.skip_depth.get(symbol, 0) > 0:
            self.skip_depth[symbol] -= 1
            return 0
        if self.duplicate_depth.get(symbol, 0) > 0:
            self.duplicate_depth[symbol] -= 1
            return 2
        return 1

    def take_corrupt(self, symbol: str) -> bool:
        """Whether this symbol's next depth event is to lose its best bid (see corrupt_depth)."""
        if self.corrupt_depth.get(symbol, 0) > 0:
            self.corrupt_depth[symbol] -= 1
            return True
        return False

    def clear(self) -> None:
        self.stalled.clear()
        self.delayed.clear()
        self.skip_depth.clear()
        self.duplicate_depth.clear()
        self.corrupt_depth.clear()
        self.wrong_levels.clear()
        self.http_status = self.http_count = self.http_code = self.http_retry_after_s = 0
        self.http_delay_s = 0.0
        self.http_path = self.http_method = ""

    def describe(self) -> dict[str, object]:
        return {
            "stalled": {k: round(v - time.monotonic(), 3) for k, v in self.stalled.items()},
            "delayed": dict(self.delayed),
            "skip_depth": dict(self.skip_depth),
            "duplicate_depth": dict(self.duplicate_depth),
            "corrupt_depth": dict(self.corrupt_depth),
            "wrong_levels": list(self.wrong_levels),
            "http_status": self.http_status,
            "http_count": self.http_count,
            "http_delay_s": self.http_delay_s,
            "http_code": self.http_code,
            "http_retry_after_s": self.http_retry_after_s,
            "http_path": self.http_path,
            "http_method": self.http_method,
        }
