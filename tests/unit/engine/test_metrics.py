"""The hot path's latency histograms: right bucket for every duration, Prometheus' shape."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hftui.engine.metrics import LatencyHistogram


@given(st.lists(st.integers(0, 1 << 40), max_size=200))
def test_every_duration_lands_in_the_first_bucket_that_holds_it(durations: list[int]) -> None:
    h = LatencyHistogram()
    for ns in durations:
        h.observe(ns)
    bounds = LatencyHistogram.bounds_s()
    # Reference: the cumulative count under each edge, counted plainly.
    expected = [sum(1 for ns in durations if ns <= round(b * 1e9)) for b in bounds]
    cumulative = h.buckets()
    assert [n for _, n in cumulative[:-1]] == expected
    assert cumulative[-1] == (float("inf"), len(durations))
    assert (h.count, h.sum_ns) == (len(durations), sum(durations))


def test_negative_durations_are_counted_apart_and_quantiles_are_bucket_edges() -> None:
    h = LatencyHistogram()
    h.observe(-5)  # clocks of two machines apart: not a duration
    for ns in (100, 300, 300, 5_000):
        h.observe(ns)
    assert (h.negative, h.count) == (1, 4)
    assert h.quantile_ns(0.5) == 512  # 300 ns falls under the 512 ns edge
    assert h.quantile_ns(1.0) == 8192
    assert LatencyHistogram().quantile_ns(0.99) == 0


def test_attached_histogram_keeps_its_figures_and_reads_the_new_storage() -> None:
    h = LatencyHistogram()
    h.observe(300)
    storage = np.zeros(h.storage.shape[0], np.int64)
    h.attach(storage)
    h.observe(5_000)
    assert (h.count, h.sum_ns) == (2, 5_300)
    assert storage[: len(h.counts)].sum() == 2  # written where the kernel writes
    assert h.quantile_ns(0.5) == 512


def test_a_duration_past_int64_is_counted_not_raised() -> None:
    # A frame whose event time is garbage gives a feed delay no int64 holds (found by the
    # frame fuzzer): it lands beyond every bound, or among the impossible ones.
    hist = LatencyHistogram()
    hist.observe(10**20)
    hist.observe(-(10**20))
    assert hist.count == 1
    assert hist.counts[-1] == 1
    assert hist.negative == 1
