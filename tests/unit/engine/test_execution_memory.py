"""Execution over a long session: finished orders are forgotten beyond a bound, with what
execution keeps about them, while the newest stay on show."""

from __future__ import annotations

import pytest

import hftui.engine.execution as execution_module
from hftui.config import Config
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import Lots, OrderIntent, Ticks
from hftui.exchange.symbols import exchange_info
from hftui.protocol import Event, Mode, OrderStatus, Side

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT",), 0), ["BTCUSDT"])


async def test_finished_orders_are_forgotten_beyond_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(execution_module, "_KEEP_FINISHED", 5)
    monkeypatch.setattr(execution_module, "_FORGET_EVERY", 10)
    events: list[Event] = []
    ex = Execution(Config(), INSTRUMENTS, events.append)
    ex.set_mode(Mode.PAPER)
    cids = []
    for _ in range(47):
        outcome = ex.submit(OrderIntent("BTCUSDT", Side.BUY, Lots(10), Ticks(600_000)), Mode.PAPER)
        cids.append(outcome.client_id)
        assert ex.cancel_paper(immediate=True) == 1
    kept = [c for c in cids if ex.tracker.get(c) is not None]
    # Cleaned up after every 10 finished: at most 5 kept then, plus those finished since.
    assert 5 <= len(kept) <= 5 + 10
    assert kept == cids[-len(kept) :]  # the newest are the ones kept
    assert all(ex.order_mode(c) is None for c in cids if c not in kept)
    assert all(ex.order_mode(c) == Mode.PAPER for c in kept)
    assert list(ex.recent) == cids[-len(ex.recent) :]
    last = ex.tracker.get(cids[-1])
    assert last is not None
    assert last.status == OrderStatus.CANCELED
