"""EngineLink: derivations from the shared-memory records, and reading only what changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink, EngineStatus, Notice, age_text
from hftui.protocol import FeedState, Mode
from tests.support.region import FROZEN_NS, fill_header, fill_symbol, frozen_region


@pytest.fixture
def region() -> Iterator[SnapshotWriter]:
    with frozen_region() as writer:
        yield writer


@pytest.fixture
def link(region: SnapshotWriter, frozen_clock: Callable[[], int]) -> Iterator[EngineLink]:
    link = EngineLink(SnapshotReader(region.name), 4242, clock_ns=frozen_clock)
    yield link
    link.close()


def test_view_of_a_live_engine(link: EngineLink) -> None:
    view = link.poll()
    assert view.alive
    assert view.status is EngineStatus.UP
    assert view.mode is Mode.OBSERVE
    assert (view.venue, view.pid, view.uptime) == ("local", 4242, "1m00s")
    btc = view.symbols[0]
    assert btc.feed_state is FeedState.LIVE
    assert (btc.best_bid, btc.best_ask, btc.spread, btc.mid) == (
        "64000.10",
        "64000.20",
        "0.10",
        "64000.15",
    )
    assert btc.bids[0].price == "64000.10"
    assert btc.bids[0].qty == "0.125"
    assert btc.bids[1].cumulative == "0.750"  # 0.125 + 0.625
    assert btc.bids[1].cum_units == 750
    assert btc.asks[0].price == "64000.20"
    assert btc.asks[19].price == "64002.10"
    assert (btc.price_width, btc.qty_width) == (8, 5)
    assert (btc.age_s, btc.age) == (0.05, "<1s")
    assert not btc.stale
    assert len(btc.trades) == 64  # 70 published, the ring keeps the last 64
    newest = btc.trades[0]
    assert newest.time == "11:06:39.750"
    assert newest.side == "SELL"  # trade 69: buyer was maker, so the taker sold
    assert newest.price == "64000.10"
    assert btc.trades[1].side == "BUY"
    assert btc.trades[-1].time == "11:06:24.000"  # trade 6, the oldest still in the ring
    eth = view.symbols[1]
    assert eth.mid == "3200.015"  # half a unit: one more decimal, exact


def test_stopping_and_dead_engines(region: SnapshotWriter, link: EngineLink) -> None:
    fill_header(region, stopping=True)
    view = link.poll()
    assert (view.alive, view.status) == (False, EngineStatus.STOPPING)
    fill_header(region, stopping=True, heartbeat_age_s=5)
    assert link.poll().status is EngineStatus.STOPPED
    fill_header(region, heartbeat_age_s=5)
    view = link.poll()
    assert (view.alive, view.status) == (False, EngineStatus.NOT_RESPONDING)
    assert view.heartbeat_age_s == 5.0
    fill_header(region, heartbeat_age_s=1.9)
    assert link.poll().alive


def test_an_engine_that_has_not_published_is_waited_for(frozen_clock: Callable[[], int]) -> None:
    with frozen_region(published=False) as writer:
        link = EngineLink(SnapshotReader(writer.name), 777, clock_ns=frozen_clock)
        view = link.poll()
        assert (view.alive, view.status, view.pid, view.symbols) == (
            False,
            EngineStatus.WAITING,
            777,
            (),
        )
        fill_header(writer, stream_url="", n_symbols=0)  # identity out, venue not started
        view = link.poll()
        assert (view.alive, view.status) == (True, EngineStatus.STARTING)
        link.close()


def test_stale_and_unsynced_symbols(region: SnapshotWriter, link: EngineLink) -> None:
    fill_symbol(region, 0, age_s=2.5)
    fill_symbol(region, 1, synced=False)
    btc, eth = link.poll().symbols
    assert btc.stale
    assert btc.age == "2s"
    assert eth.stale
    assert eth.feed_state is FeedState.SYNCING
    assert (eth.bids, eth.asks, eth.mid, eth.spread) == ((), (), "-", "-")


def test_unchanged_blocks_are_not_read_again(region: SnapshotWriter, link: EngineLink) -> None:
    first = link.poll().symbols[0]
    second = link.poll().symbols[0]
    assert second.seq == first.seq
    assert second.bids is first.bids  # the same formatted rows, not formatted again
    fill_symbol(region, 0, last_update_id=999)  # a new book, the same trades
    third = link.poll().symbols[0]
    assert third.seq != first.seq
    assert third.last_update_id == 999
    assert third.bids is not first.bids
    assert third.trades is first.trades  # no trade arrived: the tape rows are reused
    fill_symbol(region, 0, trades=71)
    fourth = link.poll().symbols[0]
    assert fourth.trade_count == 71
    assert fourth.trades[0].side == "BUY"  # trade 70, bought by the taker


def test_age_is_brought_up_to_date_without_a_new_block(region: SnapshotWriter) -> None:
    now = [FROZEN_NS]
    link = EngineLink(SnapshotReader(region.name), 4242, clock_ns=lambda: now[0])
    assert link.poll().symbols[0].age == "<1s"
    now[0] += 3 * 10**9
    btc = link.poll().symbols[0]
    assert (btc.age, btc.stale) == ("3s", True)
    link.close()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "never"),
        (0.0, "<1s"),
        (0.999, "<1s"),
        (1.0, "1s"),
        (59.9, "59s"),
        (61, "1m01s"),
        (2 * 3600 + 600, "2h10m"),
    ],
)
def test_age_text(seconds: float | None, text: str) -> None:
    assert age_text(seconds) == text


def test_a_notice_whose_text_repeats_its_title_says_it_once() -> None:
    assert Notice("17:39:51", "information", "mode paper", "mode paper").line == (
        "17:39:51 mode paper"
    )
    assert Notice("17:39:51", "warning", "kill", "killed: engine had it").line == (
        "17:39:51 kill: killed: engine had it"
    )
