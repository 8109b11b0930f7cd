"""Hot-path metrics: plain counters bumped where things happen, read by a collector later.

prometheus-client takes a lock on every update, so nothing on the receive path calls it: a
`LatencyHistogram` is an int64 array of counts that an exporter turns into a Prometheus
histogram at scrape time (`buckets()` gives the cumulative `le` series, `sum_s` and `count`
the rest). Buckets are powers of two nanoseconds, so observing is a leading-zero count and an
increment, done in numba (the receive path's kernel observes straight into an attached array)
and allocating nothing.

`OrderTimings` follows an order from the frame that triggered it to the venue's answer:
tick-to-order (the triggering frame's receive time to the order handed to the venue client or
the paper matcher) and the round trip (handed over to the first answer, live or paper). It
keeps the last `RECENT_SAMPLES` tick-to-order figures in a fixed array, whose median and 99th
percentile the publisher puts in the snapshot for the TUI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from hftui.engine.kernels.hist import (
    H_BUCKETS,
    H_COUNT,
    H_FIRST_POW,
    H_NEGATIVE,
    H_SUM,
    HIST_SIZE,
    observe_,
)
from hftui.protocol import CommandAnswered, Event, OrderChanged, OrderStatus

__all__ = [
    "RECENT_SAMPLES",
    "EventTally",
    "LatencyHistogram",
    "OrderTimings",
    "observe_kernel",
]

RECENT_SAMPLES: Final = 256  # tick-to-order figures behind the snapshot's p50/p99

_FIRST_POW: Final = H_FIRST_POW  # the first bucket holds up to 2**8 ns = 256 ns
_BUCKETS: Final = H_BUCKETS  # the last bounded one up to 2**37 ns (about 137 s); then +Inf

# kernels.hist.observe_'s compiled entry point, found on first use (see `observe_kernel`).
_observe: Callable[[np.ndarray, int, int], None] | None = None


def observe_kernel() -> Callable[[np.ndarray, int, int], None]:
    """`observe_`'s compiled entry point (loaded or compiled now, not at a first order):
    the dispatcher's type checks would cost more than the observation. Only ever given an
    int64 array and two ints."""
    global _observe
    if _observe is None:
        probe = np.zeros(HIST_SIZE, np.int64)
        observe_(probe, 0, 0)
        compiled = observe_.overloads.get(tuple(observe_.typeof_pyval(a) for a in (probe, 0, 0)))
        _observe = getattr(compiled, "entry_point", None) or observe_
    return _observe


_I64_MAX: Final = (1 << 63) - 1
_I64_MIN: Final = -(1 << 63)


class LatencyHistogram:
    """Durations in nanoseconds, in buckets (<= 256 ns, <= 512 ns, ... <= 137 s, +Inf).

    The figures live in an int64 array in `kernels.hist`'s layout, so a numba kernel can
    observe into it directly; `attach` moves them into an array the receive path's kernel
    writes (an order book's).
    """

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = np.zeros(HIST_SIZE, np.int64)

    def attach(self, storage: np.ndarray) -> None:
        """Keep the figures in `storage` (HIST_SIZE int64 slots) from now on, carrying over
        those counted so far."""
        if storage is self._data:
            return
        storage[:] = self._data
        self._data = storage

    @property
    def storage(self) -> np.ndarray:
        return self._data

    @property
    def counts(self) -> list[int]:
        """Per-bucket counts, the last one beyond every bound (+Inf only)."""
        return self._data[:H_COUNT].tolist()  # type: ignore[no-any-return]

    @property
    def count(self) -> int:
        return self._data.item(H_COUNT)

    @property
    def sum_ns(self) -> int:
        return self._data.item(H_SUM)

    @property
    def negative(self) -> int:
        """Impossible durations (clocks apart), counted, not bucketed."""
        return self._data.item(H_NEGATIVE)

    def observe(self, ns: int) -> None:
        # The kernel takes an int64; a duration past it (a frame with a garbage event time)
        # is still counted, at the int64 edge: beyond every bound, or impossible.
        if not _I64_MIN <= ns <= _I64_MAX:
            ns = _I64_MAX if ns > 0 else _I64_MIN
        (_observe or observe_kernel())(self._data, 0, ns)

    @staticmethod
    def bounds_s() -> list[float]:
        """Each bounded bucket's upper edge, in seconds (Prometheus' `le`)."""
        return [(1 << (_FIRST_POW + k)) / 1e9 for k in range(_BUCKETS)]

    def buckets(self) -> list[tuple[float, int]]:
        """Cumulative (le seconds, count) pairs, ending with (+Inf, count)."""
        out: list[tuple[float, int]] = []
        running = 0
        counts = self.counts
        for bound, n in zip(self.bounds_s(), counts, strict=False):
            running += n
            out.append((bound, running))
        out.append((float("inf"), running + counts[_BUCKETS]))
        return out

    @property
    def sum_s(self) -> float:
        return self.sum_ns / 1e9

    def quantile_ns(self, q: float) -> int:
        """An upper bound of the `q` quantile: the edge of the bucket it falls in."""
        count = self.count
        if not count:
            return 0
        rank = q * count
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
