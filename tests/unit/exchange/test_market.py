"""The synthetic market: deterministic, never crossed, never one-sided, realistic spread."""

from __future__ import annotations

import pytest

from hftui.exchange.book import BUY, SELL, MatchingBook
from hftui.exchange.market import MarketParams, SyntheticMarket
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


def test_knobs_shape_the_market() -> None:
    def simulate(params: MarketParams, steps: int = 1500) -> tuple[float, float, int]:
        book = MatchingBook()
        changes = [0]
        market = SyntheticMarket(spec_for("BTCUSDT"), 5, book, params=params)
        book.listener = lambda *c: changes.__setitem__(0, changes[0] + 1)
        start = market.fair
        spreads = []
        for _ in range(steps):
            market.step(0.02)
            bid, ask = book.best(BUY), book.best(SELL)
            assert bid is not None
            assert ask is not None
            spreads.append(ask - bid)
        return sum(spreads) / len(spreads), market.fair - start, changes[0]

    calm_spread, _, calm_changes = simulate(MarketParams())
    wide_spread, _, _ = simulate(MarketParams(spread_ticks=4))
    _, drift, _ = simulate(MarketParams(trend_bp=5.0, volatility_bp=0.0))
    _, _, busy_changes = simulate(MarketParams(activity=3.0))
    assert wide_spread > calm_spread + 1
    assert drift > 0  # 5 bp/s for 30 s: about 1.5 % up
    assert busy_changes > 2 * calm_changes


@pytest.mark.parametrize(
    "params",
    [MarketParams(spread_ticks=0), MarketParams(activity=0), MarketParams(volatility_bp=-1)],
)
def test_bad_knobs_are_refused(params: MarketParams) -> None:
    with pytest.raises(ValueError, match="must"):
        params.validate()
