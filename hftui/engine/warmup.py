"""Compile (or load from cache) every numba kernel the engine's hot path uses.

The engine calls `warm_kernels()` at start, before it connects, so no live message pays for
compilation. `python -m hftui.engine.warmup` does the same at install time, so that even the
first start of a fresh checkout finds the cache warm.
"""

from __future__ import annotations

import numpy as np

from hftui.engine.book import ANY_SYMBOL, OrderBook, frame_run
from hftui.engine.kernels.book import FLAG_BITS

__all__ = ["warm_kernels"]

_FRAME = (
    b'{"e":"depthUpdate","E":1,"T":1,"s":"WARMUP","U":2,"u":3,"pu":1,'
    b'"b":[["99.90","2.000"]],"a":[["100.20","0.500"]]}'
)


def warm_kernels() -> None:
    """Run each kernel once on a throwaway book."""
    book = OrderBook("WARMUP", "0.10", "0.001")
    book.load_snapshot([["100.00", "1.000"]], [["100.10", "1.000"]])
    book.apply([["100.00", "0"], ["99.90", "2.000"]], [["100.20", "0.500"]])
    if book.read_frame(_FRAME, 1, ANY_SYMBOL)[0] < 0:  # the receive path's kernel
        raise RuntimeError("the depth kernel rejected its own warm-up frame")
    diff = book.parse_raw(_FRAME)
    if diff is None:
        raise RuntimeError("the depth parser rejected its own warm-up frame")
    book.apply_ticks(
        diff.bid_ticks, diff.bid_lots, diff.n_bids, diff.ask_ticks, diff.ask_lots, diff.n_asks
    )
    runs = OrderBook("WARMUP", "0.10", "0.001")
    runs.load_snapshot([["100.00", "1.000"]], [["100.10", "1.000"]])
    runs.follow(1, True)
    if runs.take_run(*frame_run([_FRAME]), 0, 0) >> FLAG_BITS != 1:  # bursts' kernel
        raise RuntimeError("the burst kernel rejected its own warm-up frame")
    scratch = [np.zeros(4, np.int64) for _ in range(4)]
    book.top(4, *scratch)
    book.best_bid()
    book.best_ask()


if __name__ == "__main__":
    warm_kernels()
