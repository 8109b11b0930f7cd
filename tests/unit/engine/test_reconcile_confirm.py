"""Reconciliation's two-read confirmation: a figure that differs twice alike is a mismatch,
one still moving is left for the next check (not taken from the venue now)."""

from __future__ import annotations

import pytest

from hftui.engine import reconcile
from hftui.engine.reconcile import _confirmed


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile, "_CONFIRM_S", 0.0)


async def _run(
    ours: dict[str, int], *answers: dict[str, int], lands: dict[str, int] | None = None
) -> tuple[object, ...]:
    """`_confirmed` over venue reads answering `answers` in turn; `lands` is an event that
    reaches us just before the second read."""
    reads: list[dict[str, int]] = []

    async def read() -> dict[str, int]:
        if reads and lands:
            ours.update(lands)
        reads.append(answers[len(reads)])
        return reads[-1]

    def differing(venue: dict[str, int]) -> dict[str, int]:
        return {k: v for k, v in venue.items() if ours.get(k) != v}

    venue, confirmed, moving = await _confirmed(read, differing)
    return venue, confirmed, moving, len(reads)


async def test_agreement_is_read_once() -> None:
    assert await _run({"USDT": 5}, {"USDT": 5}) == ({"USDT": 5}, {}, set(), 1)


async def test_a_difference_read_twice_alike_is_confirmed() -> None:
    result = await _run({"USDT": 5, "BNB": 1}, {"USDT": 7, "BNB": 1}, {"USDT": 7, "BNB": 1})
    assert result == ({"USDT": 7, "BNB": 1}, {"USDT": 7}, set(), 2)


async def test_a_figure_still_moving_is_neither_confirmed_nor_agreed() -> None:
    # Between the reads the venue's wallet moved again (another fee): judged next time.
    result = await _run({"USDT": 5}, {"USDT": 7}, {"USDT": 8})
    assert result == ({"USDT": 8}, {}, {"USDT"}, 2)


async def test_an_event_that_lands_between_the_reads_is_no_mismatch() -> None:
    result = await _run({"USDT": 5}, {"USDT": 7}, {"USDT": 7}, lands={"USDT": 7})
    assert result == ({"USDT": 7}, {}, set(), 2)
