"""The synthetic market: deterministic, never crossed, never one-sided, realistic spread."""

from __future__ import annotations

from hftui.exchange.book import BUY, SELL, MatchingBook
from hftui.exchange.market import SyntheticMarket
from hftui.exchange.symbols import spec_for


def run(seed: int, steps: int) -> tuple[list[tuple[int, int, int, int]], SyntheticMarket]:
    changes: list[tuple[int, int, int, int]] = []
    book = MatchingBook()
    market = SyntheticMarket(spec_for("BTCUSDT"), seed, book)
    book.listener = lambda *c: changes.append(c)
    for _ in range(steps):
        market.step(0.02)
    return changes, market


def test_same_seed_same_changes() -> None:
    first, _ = run(7, 300)
    second, _ = run(7, 300)
    other, _ = run(8, 300)
    assert len(first) > 500
    assert first == second
    assert first != other


def test_update_id_counts_every_change() -> None:
    changes, market = run(3, 200)
    ids = [c[3] for c in changes]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert market.book.update_id == ids[-1]


def test_book_stays_sane_and_spread_is_mostly_one_tick() -> None:
    book = MatchingBook()
    market = SyntheticMarket(spec_for("ETHUSDT"), 11, book)
    one_tick = 0
    steps = 3000  # one simulated minute
    for _ in range(steps):
        market.step(0.02)
        bid, ask = book.best(BUY), book.best(SELL)
        assert bid is not None
        assert ask is not None
        assert bid < ask
        assert book.level_count(BUY) >= 30
        assert book.level_count(SELL) >= 30
        one_tick += ask - bid == 1
    assert one_tick / steps > 0.6
