"""Hot-path metrics: plain counters bumped where things happen, read by a collector later.

prometheus-client takes a lock on every update, so nothing on the receive path calls it: a
`LatencyHistogram` is a list of plain integer counts that an exporter turns into a Prometheus
histogram at scrape time (`buckets()` gives the cumulative `le` series, `sum_s` and `count`
the rest). Buckets are powers of two nanoseconds, so `observe` is a `bit_length` and an
increment, and allocates nothing for durations under a few seconds.

`OrderTimings` follows an order from the frame that triggered it to the venue's answer:
tick-to-order (the triggering frame's receive time to the order handed to the venue client or
the paper matcher) and the round trip (handed over to the first answer, live or paper). It
keeps the last `RECENT_SAMPLES` tick-to-order figures in a fixed array, whose median and 99th
percentile the publisher puts in the snapshot for the TUI.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from hftui.protocol import CommandAnswered, Event, OrderChanged, OrderStatus

__all__ = ["RECENT_SAMPLES", "EventTally", "LatencyHistogram", "OrderTimings"]

RECENT_SAMPLES: Final = 256  # tick-to-order figures behind the snapshot's p50/p99

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



class OrderTimings:
    """Tick-to-order and order round trips, on the loop, in plain ints and fixed arrays.

    `trigger_ns` is the receive time (wall clock) of the frame whose strategy callbacks run
    now (the strategy host sets it around them), and 0 otherwise: only an order a strategy
    places reacting to a book or a trade has a tick-to-order; manual orders, timers and the
    kill switch's have not.
    """

    __slots__ = (
        "_pending",
        "_quantiles",
        "_sent",
        "recent",
        "recent_count",
        "round_trip",
        "tick_to_order",
        "trigger_ns",
    )

    def __init__(self) -> None:
        self.trigger_ns = 0
        self.tick_to_order = LatencyHistogram()
        self.round_trip = LatencyHistogram()
        self.recent = np.zeros(RECENT_SAMPLES, np.int64)  # a ring: sample k at k % size
        self.recent_count = 0  # samples ever taken
        self._sent: dict[str, int] = {}  # client id -> when handed over, until its answer
        self._pending: dict[str, int] = {}  # live: client id -> trigger, until the send task
        self._quantiles = (-1, 0, 0)  # (recent_count, p50, p99) last computed

    # ---- execution ------------------------------------------------------------------------

    def defer(self, client_id: str) -> None:
        """A live order goes out from its own task: keep its trigger until `handed`."""
        if self.trigger_ns:
            self._pending[client_id] = self.trigger_ns

    def handed(self, client_id: str, now_ns: int) -> None:
        """The order is with the venue client (about to be written) or the paper matcher."""
        trigger = self._pending.pop(client_id, 0) or self.trigger_ns
        if trigger:
            spent = now_ns - trigger
            self.tick_to_order.observe(spent)
            self.recent[self.recent_count % RECENT_SAMPLES] = spent
            self.recent_count += 1
        self._sent[client_id] = now_ns

    def settle(self, client_id: str, answered: bool, ended: bool, now_ns: int) -> None:
        """After an order changed: `answered`, the venue (or the paper matcher) has said
        something about it, which ends its round trip the first time; an order that `ended`
        without an answer (refused before it left, or lost) is forgotten."""
        if answered:
            sent = self._sent.pop(client_id, 0)
            if sent:
                self.round_trip.observe(now_ns - sent)
        elif ended:
            self._sent.pop(client_id, None)
            self._pending.pop(client_id, None)

    def recent_quantiles(self) -> tuple[int, int, int]:
        """(p50 ns, p99 ns, samples) of the last `RECENT_SAMPLES` tick-to-order figures;
        computed again only after new samples."""
        count = self.recent_count
        if count != self._quantiles[0]:
            if count:
                window = self.recent[: min(count, RECENT_SAMPLES)]
                p50, p99 = np.percentile(window, (50, 99), method="higher")
                self._quantiles = (count, int(p50), int(p99))
            else:
                self._quantiles = (0, 0, 0)
        _, p50, p99 = self._quantiles
        return p50, p99, min(count, RECENT_SAMPLES)
