"""Hot-path metrics: plain counters bumped where things happen, read by a collector later.

prometheus-client takes a lock on every update, so nothing on the receive path calls it: a
`LatencyHistogram` is a list of plain integer counts that an exporter turns into a Prometheus
histogram at scrape time (`buckets()` gives the cumulative `le` series, `sum_s` and `count`
the rest). Buckets are powers of two nanoseconds, so `observe` is a `bit_length` and an
increment, and allocates nothing for durations under a few seconds.
"""

from __future__ import annotations

from typing import Final

from hftui.protocol import CommandAnswered, Event, OrderChanged, OrderStatus

__all__ = ["EventTally", "LatencyHistogram"]

_FIRST_POW: Final = 8  # the first bucket holds up to 2**8 ns = 256 ns
_BUCKETS: Final = 30  # the last bounded one up to 2**37 ns (about 137 s); then +Inf


class LatencyHistogram:
    """Durations in nanoseconds, in buckets (<= 256 ns, <= 512 ns, ... <= 137 s, +Inf)."""

    __slots__ = ("count", "counts", "negative", "sum_ns")

    def __init__(self) -> None:
        self.counts = [0] * (_BUCKETS + 1)  # the last one: beyond every bound (+Inf only)
        self.count = 0
        self.sum_ns = 0
        self.negative = 0  # impossible durations (clocks apart), counted, not bucketed

    def observe(self, ns: int) -> None:
        if ns < 0:
            self.negative += 1
            return
        index = (ns - 1).bit_length() - _FIRST_POW if ns > 1 else 0
        self.counts[index if 0 <= index < _BUCKETS else (0 if index < 0 else _BUCKETS)] += 1
        self.count += 1
        self.sum_ns += ns

    @staticmethod
    def bounds_s() -> list[float]:
        """Each bounded bucket's upper edge, in seconds (Prometheus' `le`)."""
        return [(1 << (_FIRST_POW + k)) / 1e9 for k in range(_BUCKETS)]

    def buckets(self) -> list[tuple[float, int]]:
        """Cumulative (le seconds, count) pairs, ending with (+Inf, count)."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip(self.bounds_s(), self.counts, strict=False):
            running += n
            out.append((bound, running))
        out.append((float("inf"), running + self.counts[_BUCKETS]))
        return out

    @property
    def sum_s(self) -> float:
        return self.sum_ns / 1e9

    def quantile_ns(self, q: float) -> int:
        """An upper bound of the `q` quantile: the edge of the bucket it falls in."""
        if not self.count:
            return 0
        rank = q * self.count
        running = 0
        for k, n in enumerate(self.counts[:_BUCKETS]):
            running += n
            if running >= rank:
                return 1 << (_FIRST_POW + k)
        return 1 << (_FIRST_POW + _BUCKETS)


class EventTally:
    """What the engine told its clients: events published, orders that ended rejected and
    commands refused, by reason (lower-case `Reason` names). Bumped on the loop as each
    event goes out; an exporter copies the dicts at scrape time."""

    __slots__ = ("published", "refusals", "rejects")

    def __init__(self) -> None:
        self.published = 0
        self.rejects: dict[str, int] = {}
        self.refusals: dict[str, int] = {}

    def see(self, event: Event) -> None:
        self.published += 1
        if isinstance(event, CommandAnswered):
            if not event.ok:
                key = event.reason.name.lower()
                self.refusals[key] = self.refusals.get(key, 0) + 1
        elif isinstance(event, OrderChanged) and event.status == OrderStatus.REJECTED:
            key = event.reason.name.lower()
            self.rejects[key] = self.rejects.get(key, 0) + 1
