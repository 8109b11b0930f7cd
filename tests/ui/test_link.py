"""EngineLink: derivations from the shared-memory records."""

from __future__ import annotations

from hftui.ipc import SnapshotReader
from hftui.link import EngineLink
from hftui.protocol import FeedState, Mode
from tests.support.region import FROZEN_NS, fill_header, frozen_region


def test_view_of_a_live_engine() -> None:
    with frozen_region() as writer:
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
        view = link.poll()
        link.close()
    assert view is not None
    assert view.alive
    assert view.status == "up"
    assert view.mode is Mode.OBSERVE
    assert view.venue == "local"
    btc = view.symbols[0]
    assert btc.feed_state is FeedState.LIVE
    assert btc.spread == "0.10"
    assert btc.bids[0].price == "64000.10"
    assert btc.bids[0].qty == "0.125"
    assert btc.bids[1].cumulative == "0.750"  # 0.125 + 0.625
    assert btc.asks[0].price == "64000.20"
    assert len(btc.trades) == 64
    newest = btc.trades[0]
    assert newest.time == "11:06:39.750"
    assert newest.side == "SELL"  # trade 69: buyer was maker, so the taker sold
    assert newest.price == "64000.10"
    eth = view.symbols[1]
    assert eth.mid == "3200.015"


def test_stopping_and_dead_engines() -> None:
    with frozen_region() as writer:
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
        fill_header(writer, stopping=True)
        view = link.poll()
        assert view is not None
        assert (view.alive, view.status) == (False, "stopping")
        fill_header(writer, stopping=True, heartbeat_age_s=5)
        view = link.poll()
        assert view is not None
        assert view.status == "stopped"
        fill_header(writer, heartbeat_age_s=5)
        view = link.poll()
        assert view is not None
        assert view.status == "not responding"
        link.close()
