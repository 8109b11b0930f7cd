"""Coverage-guided fuzzing of the market-data receive path with atheris (libFuzzer).

Not a pytest module (pytest collects `test_*.py` only): run it with `make fuzz`, or
`python tests/fuzz/atheris_frames.py -max_total_time=60 [CORPUS_DIR]`. Each input is one
frame: the numba parser and the JSON path must agree on it, and `MarketData.on_frame` must
take it without raising and leave every synced book equal to the venue's.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `tests`

import hftui.engine.book  # noqa: F401  numba kernels: imported uninstrumented, numba compiles them

# Only plain Python is instrumented: rewritten bytecode is not something numba can compile.
with atheris.instrument_imports(include=["hftui.engine.market_data", "hftui.engine.depth_sync"]):
    from hftui.engine import market_data  # noqa: F401
    from tests.fuzz.test_frames import VALID, check, fast_and_json_agree
    from tests.unit.engine.test_market_data import engine, heal, sync_all, wire

MARKET, VENUES, _ = engine()
sync_all(MARKET, VENUES)


def one_input(data: bytes) -> None:
    fast_and_json_agree(data)
    MARKET.on_frame(data, 0)
    check(MARKET, VENUES)
    # Keep the books live so the next input meets synced books, not only resyncing ones.
    MARKET.on_frame(wire(VENUES["BTCUSDT"].event()), 0)
    for feed in MARKET.feeds:
        if feed.sync is not None and feed.sync.needs_snapshot:
            heal(MARKET, VENUES)
            break


def main() -> None:
    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):
        # No corpus directory given: one kept between runs, started from real frames, since
        # libFuzzer rarely finds its way to a whole depth event from nothing.
        corpus = Path(tempfile.gettempdir()) / "hftui-fuzz-frames"
        corpus.mkdir(exist_ok=True)
        seeds = [VALID, wire(VENUES["ETHUSDT"].event()), wire(VENUES["BTCUSDT"].event())]
        for k, seed in enumerate(seeds):
            (corpus / f"seed{k}").write_bytes(seed)
        argv.append(str(corpus))
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
