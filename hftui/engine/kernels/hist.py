"""numba kernels for latency histograms kept in int64 arrays, and the wall clock.

A histogram is HIST_SIZE int64 slots: bucket k (k < H_BUCKETS) counts durations up to
2**(H_FIRST_POW + k) ns, bucket H_BUCKETS those beyond every bound, then the count, the sum
and the impossible (negative) durations. `engine.metrics.LatencyHistogram` reads the same
layout; a kernel on the receive path observes into it without going back to Python.
Only numpy, numba, llvmlite and the kernels package here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import leading_zeros
from numba.extending import intrinsic

from hftui.engine.kernels import kernel

__all__ = [
    "HIST_SIZE",
    "H_BUCKETS",
    "H_COUNT",
    "H_FIRST_POW",
    "H_NEGATIVE",
    "H_SUM",
    "observe_",
    "wall_ns_",
]

H_FIRST_POW = 8  # the first bucket holds up to 2**8 ns = 256 ns
H_BUCKETS = 30  # the last bounded one up to 2**37 ns (about 137 s); then +Inf
H_COUNT = H_BUCKETS + 1
H_SUM = H_BUCKETS + 2
H_NEGATIVE = H_BUCKETS + 3
HIST_SIZE = H_BUCKETS + 4

_CLOCK_REALTIME = 0  # Linux's id: the clock time.time_ns reads


def _clock_codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    # clock_gettime(CLOCK_REALTIME, &ts) by name, so the kernel stays cacheable (a ctypes
    # function's address would be baked into the compiled code and forbid numba's cache).
    i64 = ir.IntType(64)
    i32 = ir.IntType(32)
    timespec = ir.LiteralStructType([i64, i64])
    fnty = ir.FunctionType(i32, [i32, timespec.as_pointer()])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")  # type: ignore[no-untyped-call]
    ts = cgutils.alloca_once(builder, timespec)  # type: ignore[no-untyped-call]
    builder.call(fn, [ir.Constant(i32, _CLOCK_REALTIME), ts])
    sec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 0))  # type: ignore[no-untyped-call]
    nsec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 1))  # type: ignore[no-untyped-call]
    return builder.add(builder.mul(sec, ir.Constant(i64, 1_000_000_000)), nsec)


@intrinsic
def _clock_gettime(typingctx: Any) -> tuple[Any, Any]:
    return types.int64(), _clock_codegen


@kernel
def wall_ns_() -> int:
    """Nanoseconds since the epoch, as `time.time_ns()` gives them."""
    return _clock_gettime()  # type: ignore[call-arg]


@kernel
def observe_(hist: np.ndarray, at: int, ns: int) -> None:
    """Count a duration of `ns` nanoseconds in the histogram at hist[at : at + HIST_SIZE]."""
    if ns < 0:
        hist[at + H_NEGATIVE] += 1
        return
    index = 0
    if ns > 1:
        # (ns - 1).bit_length(): the exponent of the smallest power of two at or above ns
        index = 64 - leading_zeros(np.uint64(ns - 1)) - H_FIRST_POW  # type: ignore[call-arg]
        if index < 0:
            index = 0
        elif index > H_BUCKETS:
            index = H_BUCKETS
    hist[at + index] += 1
    hist[at + H_COUNT] += 1
    hist[at + H_SUM] += ns
