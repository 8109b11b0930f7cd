"""The journal against a real SQLite file: schema, migration, batching, the durability rule,
draining at close, refusals of unusable files, and no secrets."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlite_utils

from hftui.engine.binance.client import Credentials
from hftui.engine.journal import (
    SCHEMA_VERSION,
    DurablePublisher,
    Journal,
    JournalError,
    migrate,
)
from hftui.protocol import (
    AlertRaised,
    Event,
    OrderChanged,
    OrderFilled,
    OrderStatus,
    Reason,
    Side,
)


def _rows(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(sql, args))
    finally:
        conn.close()


def _order(journal: Journal, cid: str, ns: int = 1) -> None:
    journal.order_new(
        cid, "BTCUSDT", "BUY", "LIMIT", "GTC", "0.010", "60000.0", False, "manual", "live", ns
    )


def _fill(journal: Journal, cid: str, trade_id: int) -> None:
    journal.fill(
        "live", "BTCUSDT", trade_id, cid, 7, "BUY", "0.010", "60000.0", 0.12, True, "manual",
        1000, "stream",
    )  # fmt: skip


def _old_file(path: Path, version: int, sql: str) -> Path:
    """A journal file left at schema `version` by an older hftui, with one row from `sql`."""
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    migrate(db, upto=version)
    db.conn.execute(sql)
    db.conn.close()
    return path


def test_a_new_file_is_private_in_wal_mode_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "j" / "default.sqlite3"
    path.parent.mkdir(mode=0o700)
    journal = Journal(path)
    journal.close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert _rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert _rows(path, "SELECT MAX(version) FROM schema_version") == [(SCHEMA_VERSION,)]
    tables = set(sqlite_utils.Database(path).table_names())
    assert {"orders", "order_events", "fills", "position_snapshots", "daily_pnl", "audit"} <= tables


def test_a_v1_file_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = _old_file(
        tmp_path / "old.sqlite3",
        1,
        "INSERT INTO orders (client_id, symbol, side, status, mode) "
        "VALUES ('m1', 'BTCUSDT', 'BUY', 'NEW', 'live')",
    )
    assert "position_snapshots" not in sqlite_utils.Database(path).table_names()

    journal = Journal(path)
    journal.close()
    assert _rows(path, "SELECT version FROM schema_version ORDER BY version") == [
        (v,) for v in range(1, SCHEMA_VERSION + 1)
    ]
    assert "position_snapshots" in sqlite_utils.Database(path).table_names()
    assert [o["client_id"] for o in journal.state.open_orders] == ["m1"]


def test_both_legs_of_a_self_trade_are_kept_across_the_v4_migration(tmp_path: Path) -> None:
    # Until v4 a fill was keyed by (mode, symbol, trade id): the venue gives both legs of a
    # self-trade one id, so the second leg was dropped as a repeat.
    path = _old_file(
        tmp_path / "v3.sqlite3",
        3,
        "INSERT INTO fills (mode, symbol, trade_id, client_id, side, qty, price, fee, maker, "
        "strategy, time_ms, source) VALUES "
        "('live', 'BTCUSDT', 41, 'm0', 'SELL', '0.010', '60000.0', 0.1, 1, '', 900, 'stream')",
    )

    journal = Journal(path)
    _fill(journal, "m1", 42)  # a BUY
    journal.fill(
        "live", "BTCUSDT", 42, "m2", 8, "SELL", "0.010", "60000.0", 0.05, True, "manual",
        1000, "stream",
    )  # fmt: skip
    _fill(journal, "m1", 42)  # a repeat of the buy leg: still one row
    journal.close()
    assert _rows(path, "SELECT trade_id, side, client_id FROM fills ORDER BY trade_id, side") == [
        (41, "SELL", "m0"),
        (42, "BUY", "m1"),
        (42, "SELL", "m2"),
    ]
    state = Journal(path)
    state.close()
    assert state.state.last_trade_ids == {"BTCUSDT": 42}
    assert state.state.last_trade_sides == {"BTCUSDT": {"BUY", "SELL"}}


def test_a_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    Journal(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(JournalError, match="newer"):
        Journal(path)


def test_records_are_committed_in_batches_and_close_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    count = 5000

    def produce(offset: int) -> None:
        for i in range(count):
            _order(journal, f"c{offset + i}")
            journal.order_event(i, f"c{offset + i}", "accepted", "NEW", "0", "")

    threads = [threading.Thread(target=produce, args=(n * count,)) for n in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    journal.close()  # drains whatever is still queued
    spent = time.perf_counter() - started
    assert _rows(path, "SELECT COUNT(*) FROM orders") == [(2 * count,)]
    assert _rows(path, "SELECT COUNT(*) FROM order_events") == [(2 * count,)]
    assert journal.records == 4 * count
    assert journal.batches < journal.records / 10  # many records per transaction
    logging.getLogger(__name__).info(
        "journal: %d records in %.3fs, %d batches, commit max %.2f ms",
        journal.records, spent, journal.batches, journal.commit_s_max * 1e3,
    )  # fmt: skip


def test_order_updates_and_fills_are_idempotent_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    _order(journal, "m1")
    journal.order_state("m1", "PARTIALLY_FILLED", "0.005", "60000.0", "", 7, 2)
    _fill(journal, "m1", 11)
    _fill(journal, "m1", 11)  # the same trade twice: one row
    journal.daily_pnl(2_000_000_000, "live", 1.5, 0.1)
    journal.daily_pnl(3_000_000_000, "live", -0.5, 0.1)
    journal.close()
    assert _rows(path, "SELECT status, filled, venue_order_id FROM orders") == [
        ("PARTIALLY_FILLED", "0.005", 7)
    ]
    assert _rows(path, "SELECT trade_id FROM fills") == [(11,)]
    (day,) = _rows(path, "SELECT day, realized, fees FROM daily_pnl")
    assert day[0] == "1970-01-01"
    assert day[1] == pytest.approx(1.0)
    assert day[2] == pytest.approx(0.2)

    again = Journal(path)
    again.close()
    assert [o["client_id"] for o in again.state.open_orders] == ["m1"]
    assert again.state.last_trade_ids == {"BTCUSDT": 11}
    assert again.state.venue_ids == {7: "m1"}


def test_ack_and_fill_events_reach_the_tui_only_after_their_commit(tmp_path: Path) -> None:
    """The durability rule: what the TUI shows as accepted or filled is on disk, and events
    keep their order even when some are held."""
    path = tmp_path / "j.sqlite3"
    seen: list[tuple[str, int, int]] = []  # (event, order rows, fill rows) at publish time

    def publish(event: Event) -> None:
        orders = _rows(path, "SELECT COUNT(*) FROM orders WHERE status = 'NEW'")[0][0]
        fills = _rows(path, "SELECT COUNT(*) FROM fills")[0][0]
        name = type(event).__name__
        assert isinstance(orders, int)
        assert isinstance(fills, int)
        seen.append((name, orders, fills))

    async def run() -> None:
        journal = Journal(path)
        journal.bind_loop(asyncio.get_running_loop().call_soon_threadsafe)
        durable = DurablePublisher(journal, publish)
        durable(AlertRaised(logging.INFO, "before"))  # nothing held: immediate
        assert [s[0] for s in seen] == ["AlertRaised"]
        _order(journal, "m1")
        journal.order_state("m1", "NEW", "0", "", "", 7, 2)
        durable(
            OrderChanged(
                "m1", "BTCUSDT", Side.BUY, OrderStatus.NEW, "0.010", "60000.0", "0", Reason.OK, ""
            )
        )
        durable(AlertRaised(logging.INFO, "after"))  # behind the held one
        _fill(journal, "m1", 1)
        durable(OrderFilled("m1", "BTCUSDT", Side.BUY, "0.010", "60000.0", "maker"))
        assert len(seen) == 1  # nothing more until the writer commits
        await asyncio.to_thread(journal.close)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert [s[0] for s in seen] == ["AlertRaised", "OrderChanged", "AlertRaised", "OrderFilled"]
    assert seen[0][1:] == (0, 0)
    assert seen[1][1] == 1  # the acknowledged order was on disk when the TUI heard of it
    assert seen[3][2] == 1  # and so was the fill


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="not a readable SQLite database"):
        Journal(path)


def test_a_locked_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(JournalError, match="locked by another process"):
            Journal(path)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_no_secret_reaches_the_journal(tmp_path: Path) -> None:
    secret = "journalSECRETqqqqrrrrssssttttuuuuvvvvwwwwxxxxyyyyzzzz0123456789"
    credentials = Credentials("journalKEYaaaabbbb", secret)
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    journal.audit("keys", f"local keys present: {credentials!r}")
    journal.audit("command", repr(credentials))
    journal.close()
    assert len(_rows(path, "SELECT * FROM audit")) == 2
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes(), file


def test_a_v2_days_pnl_gains_funding_and_today_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    migrate(db, upto=2)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    db.conn.execute(
        "INSERT INTO daily_pnl (day, mode, realized, fees, updated_ns) VALUES (?, 'live', 5, 1, 0)",
        (today,),
    )
    db.conn.execute("INSERT INTO daily_pnl VALUES ('2020-01-01', 'live', 99.0, 9.0, 0)")
    db.conn.close()
    journal = Journal(path)
    journal.daily_pnl(time.time_ns(), "live", 0.0, 0.0, -0.25)  # a funding payment
    journal.close()
    assert journal.state.today == {"live": (5.0, 1.0, 0.0)}  # what it knew when it opened
    assert _rows(path, "SELECT realized, fees, funding FROM daily_pnl WHERE day = ?", today) == [
        (5.0, 1.0, -0.25)
    ]


def test_the_last_paper_position_of_each_symbol_is_read_back_and_flat_ones_left_out(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    snapshots = [
        ("paper", "BTCUSDT", "0.010", "6399630"),
        ("paper", "BTCUSDT", "-0.020", "6400150"),  # the last of BTCUSDT: short
        ("paper", "ETHUSDT", "1.000", "320001"),
        ("paper", "ETHUSDT", "0.000", "0"),  # closed since
        ("live", "SOLUSDT", "3", "15000"),  # live positions come from the venue
    ]
    for k, (mode, symbol, qty, entry) in enumerate(snapshots):
        journal.position(k, mode, symbol, qty, entry, 0.0, 0.0, "fill")
    journal.close()
    again = Journal(path)
    again.close()
    assert again.state.paper_positions == {"BTCUSDT": ("-0.020", "6400150")}


def test_strategy_fills_are_read_back_oldest_first_without_the_traders_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    rows = [  # trade id, strategy, time ms
        (3, "maker", 2000),
        (1, "manual", 1000),
        (2, "maker", 1000),
        (4, "", 3000),
    ]
    for trade_id, strategy, time_ms in rows:
        journal.fill(
            "paper", "ETHUSDT", trade_id, f"c{trade_id}", 0, "BUY", f"0.0{trade_id}0",
            "3200.00", 0.01, True, strategy, time_ms, "paper",
        )  # fmt: skip
    journal.close()
    again = Journal(path)
    again.close()
    assert again.state.strategy_fills == [
        ("paper", "maker", "ETHUSDT", "BUY", "0.020", "3200.00", 0.01, 1000),  # trade 2
        ("paper", "maker", "ETHUSDT", "BUY", "0.030", "3200.00", 0.01, 2000),  # trade 3
    ]


def test_orders_whose_fills_may_be_missing_are_listed_for_recovery(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    now = time.time_ns()
    for cid, status, filled, venue_id in [
        ("whole", "FILLED", "0.010", 7),  # its fill journaled: settled
        ("short", "FILLED", "0.020", 8),  # filled 0.020, one 0.010 fill journaled
        ("none", "FILLED", "0.010", 9),  # the venue said filled; no fill ever came
        ("open", "NEW", "0", 10),  # open at the stop: it may have filled since
        ("canceled", "CANCELED", "0", 11),  # ended unfilled: nothing to ask
        ("unsent", "NEW", "0", 0),  # never reached the venue: no id to ask with
    ]:
        _order(journal, cid, now)
        journal.order_state(cid, status, filled, "60000.0", "", venue_id, now)
    _fill(journal, "whole", 100)
    _fill(journal, "short", 101)
    journal.close()
    again = Journal(path)
    again.close()
    gaps = {g.client_id: (g.venue_order_id, g.journaled) for g in again.state.fill_gaps}
    assert gaps == {
        "short": (8, {(101, "BUY")}),
        "none": (9, set()),
        "open": (10, set()),
    }
