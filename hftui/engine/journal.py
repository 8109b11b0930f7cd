"""The journal: orders, order events, fills, positions, daily P&L and an audit log in SQLite.

Owns: one SQLite file per engine instance in the data dir (`journal/<instance>.sqlite3`,
0600 in a 0700 dir), in WAL mode, with a versioned schema (`schema_version`, migrations
applied in order at open) and one writer thread that alone writes it.

The event loop never touches SQLite while trading: it appends small tuples to a queue
(`order_new`, `order_state`, `order_event`, `fill`, `position`, `daily_pnl`, `audit`). The
writer thread takes everything queued, commits it as one transaction (synchronous=FULL, so a
commit survives `kill -9` and a power cut alike), and goes back for more.

Durability rule: an order acknowledgement, a fill, and an order's end (filled, canceled,
expired, rejected) reach the TUI only after the journal has committed them. `DurablePublisher`
enforces it: such events wait in the queue behind their records (`after_commit`), and the
writer thread hands them back to the loop (`call_soon_threadsafe`) once their batch is
committed. While any event waits, later events queue behind it too, so the TUI sees events in
the order the engine produced them. If a commit fails, the events are still delivered (the
trader must see his orders) and the failure is raised as an alert: the journal is then
behind, and says so.

Never journaled: API keys or secrets. The audit log records that keys appeared or went away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final, NamedTuple

import sqlite_utils

from hftui.engine.metrics import LatencyHistogram
from hftui.paths import journal_file
from hftui.protocol import AlertRaised, Event, OrderChanged, OrderFilled, OrderStatus

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DurablePublisher",
    "FillGap",
    "Journal",
    "JournalError",
    "JournalState",
    "StrategyFill",
    "journal_path",
    "migrate",
]

log = logging.getLogger(__name__)

_BATCH_MAX: Final = 2048  # records per transaction at most
_BUSY_TIMEOUT_S: Final = 1.0  # another process holding the file: give up after this


class JournalError(RuntimeError):
    """The journal cannot be opened or written; the message names the file and the cause."""


def utc_day(ts_ns: int) -> str:
    """The UTC calendar day of a wall-clock time: the key of the daily P&L."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ns / 1e9))


def journal_path(instance: str) -> Path:
    """`<data dir>/journal/<instance>.sqlite3`; the directory is created 0700."""
    path = journal_file(instance)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.parent.chmod(0o700)
    return path


# ---- schema ---------------------------------------------------------------------------------


_FILL_COLUMNS: Final[dict[str, type]] = {
    "mode": str,
    "symbol": str,
    "trade_id": int,
    "client_id": str,
    "venue_order_id": int,
    "side": str,
    "qty": str,
    "price": str,
    "fee": float,
    "maker": int,
    "strategy": str,
    "time_ms": int,
    "source": str,
}


def _v1(db: sqlite_utils.Database) -> None:
    # Orders, their events, fills and the audit log.
    db["orders"].create(  # type: ignore[union-attr]
        {
            "client_id": str,
            "symbol": str,
            "side": str,
            "type": str,
            "tif": str,
            "qty": str,
            "price": str,
            "reduce_only": int,
            "strategy": str,
            "mode": str,
            "venue_order_id": int,
            "status": str,
            "filled": str,
            "avg_price": str,
            "reason": str,
            "created_ns": int,
            "updated_ns": int,
        },
        pk="client_id",
        not_null={"symbol", "side", "status", "mode"},
        defaults={"venue_order_id": 0, "filled": "0", "avg_price": "", "reason": ""},
    )
    db["order_events"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "ts_ns": int,
            "client_id": str,
            "kind": str,
            "status": str,
            "filled": str,
            "reason": str,
        },
        pk="id",
    )
    db["order_events"].create_index(["client_id"])  # type: ignore[union-attr]
    db["fills"].create(_FILL_COLUMNS, pk=("mode", "symbol", "trade_id"))  # type: ignore[union-attr]
    db["audit"].create(  # type: ignore[union-attr]
        {"id": int, "ts_ns": int, "kind": str, "detail": str}, pk="id"
    )


def _v2(db: sqlite_utils.Database) -> None:
    # Position snapshots and daily P&L.
    db["position_snapshots"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "ts_ns": int,
            "mode": str,
            "symbol": str,
            "qty": str,
            "entry_price": str,
            "realized": float,
            "fees": float,
            "source": str,
        },
        pk="id",
    )
    db["position_snapshots"].create_index(["mode", "symbol", "id"])  # type: ignore[union-attr]
    db["daily_pnl"].create(  # type: ignore[union-attr]
        {"day": str, "mode": str, "realized": float, "fees": float, "updated_ns": int},
        pk=("day", "mode"),
    )


def _v3(db: sqlite_utils.Database) -> None:
    # Funding beside realized P&L and fees, per UTC day and mode (paid: negative).
    db["daily_pnl"].add_column("funding", float, not_null_default=0.0)  # type: ignore[union-attr]


def _v4(db: sqlite_utils.Database) -> None:
    # A fill is keyed by its side too: the venue gives both legs of a self-trade (an
    # account's order meeting its own) one trade id, and the second leg was dropped as a repeat.
    db["fills_v4"].create(  # type: ignore[union-attr]
        _FILL_COLUMNS, pk=("mode", "symbol", "trade_id", "side")
    )
    columns = ", ".join(_FILL_COLUMNS)
    db.conn.execute(f"INSERT INTO fills_v4 ({columns}) SELECT {columns} FROM fills")  # noqa: S608
    db.conn.execute("DROP TABLE fills")
    db.conn.execute("ALTER TABLE fills_v4 RENAME TO fills")


MIGRATIONS: Final[tuple[Callable[[sqlite_utils.Database], None], ...]] = (_v1, _v2, _v3, _v4)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database, upto: int = SCHEMA_VERSION) -> int:
    """Bring the file's schema to version `upto`, one migration per transaction.

    Returns:
        The version the file had before.

    Raises:
        JournalError: the file was written by a newer hftui.
    """
    conn = db.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied_ns INTEGER NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    found = int(row[0] or 0)
    if found > SCHEMA_VERSION:
        raise JournalError(
            f"journal schema version {found} is newer than this hftui's ({SCHEMA_VERSION})"
        )
    for version in range(found + 1, upto + 1):
        # All of a migration or none of it (the connection is in autocommit mode).
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version - 1](db)
            conn.execute(
                "INSERT INTO schema_version (version, applied_ns) VALUES (?, ?)",
                (version, time.time_ns()),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        log.info("journal migrated", extra={"schema_version": version})
    return found


# ---- what a restart needs -------------------------------------------------------------------


class StrategyFill(NamedTuple):
    """One journaled fill of a strategy's order, as a restart replays it."""

    mode: str
    strategy: str
    symbol: str
    side: str
    qty: str
    price: str
    fee: float = 0.0  # USDT
    time_ms: int = 0


@dataclass(slots=True)
class FillGap:
    """A live order whose journaled fills may fall short of what it filled: still open when
    the engine stopped, or filled beyond its fills journaled (their events were lost)."""

    client_id: str
    symbol: str
    venue_order_id: int
    journaled: set[tuple[int, str]]  # its fills' (trade id, side) already in the journal
    strategy: str = ""


_GAP_DAYS: Final = 7  # orders updated longer ago than this are taken as settled


@dataclass(slots=True)
class JournalState:
    """What the journal knew when the engine last stopped (or died)."""

    open_orders: list[dict[str, object]] = field(default_factory=list)  # rows of `orders`
    last_trade_ids: dict[str, int] = field(default_factory=dict)  # live, per symbol
    # the sides journaled at each symbol's last trade id (a self-trade has two legs)
    last_trade_sides: dict[str, set[str]] = field(default_factory=dict)
    last_paper_trade_id: int = 0  # the paper matcher's ids, all symbols: it goes on from here
    first_live_ms: int = 0  # the oldest live order's creation: trades before are not ours
    venue_ids: dict[int, str] = field(default_factory=dict)  # venue order id -> client id
    # mode -> (realized, fees, funding) of the current UTC day, so "today" survives a restart
    today: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    # symbol -> (signed qty, entry price in 10**-decimals) of the last paper position
    # snapshot, flat ones left out: the paper account outlives the engine, as a venue's does
    paper_positions: dict[str, tuple[str, str]] = field(default_factory=dict)
    # every strategy's fill, oldest first: a strategy's own position is the sum of its fills,
    # kept per mode, and today's P&L that of today's
    strategy_fills: list[StrategyFill] = field(default_factory=list)
    # live orders whose fills the venue may have more of than the journal (recovery asks)
    fill_gaps: list[FillGap] = field(default_factory=list)


def _load_state(conn: sqlite3.Connection) -> JournalState:
    conn.row_factory = sqlite3.Row
    try:
        state = JournalState()
        terminal = tuple(s.name for s in OrderStatus if s.terminal)
        marks = ",".join("?" * len(terminal))
        rows = conn.execute(
            f"SELECT * FROM orders WHERE status NOT IN ({marks}) ORDER BY created_ns",  # noqa: S608
            terminal,
        )
        state.open_orders = [dict(r) for r in rows]
        for r in conn.execute(
            "SELECT symbol, MAX(trade_id) AS last FROM fills WHERE mode = 'live' GROUP BY symbol"
        ):
            state.last_trade_ids[str(r["symbol"])] = int(r["last"])
        for symbol, last in state.last_trade_ids.items():
            state.last_trade_sides[symbol] = {
                str(r[0])
                for r in conn.execute(
                    "SELECT side FROM fills WHERE mode = 'live' AND symbol = ? AND trade_id = ?",
                    (symbol, last),
                )
            }
        paper = conn.execute("SELECT MAX(trade_id) FROM fills WHERE mode = 'paper'").fetchone()
        state.last_paper_trade_id = int(paper[0] or 0)
        first = conn.execute("SELECT MIN(created_ns) FROM orders WHERE mode = 'live'").fetchone()
        state.first_live_ms = int(first[0] or 0) // 1_000_000
        for r in conn.execute(
            "SELECT venue_order_id, client_id FROM orders "
            "WHERE mode = 'live' AND venue_order_id > 0"
        ):
            state.venue_ids[int(r["venue_order_id"])] = str(r["client_id"])
        for r in conn.execute(
            "SELECT mode, realized, fees, funding FROM daily_pnl WHERE day = ?",
            (utc_day(time.time_ns()),),
        ):
            state.today[str(r["mode"])] = (r["realized"], r["fees"], r["funding"])
        for r in conn.execute(
            "SELECT symbol, qty, entry_price FROM position_snapshots WHERE id IN "
            "(SELECT MAX(id) FROM position_snapshots WHERE mode = 'paper' GROUP BY symbol)"
        ):
            if str(r["qty"]).lstrip("-0.") != "":  # not flat
                state.paper_positions[str(r["symbol"])] = (str(r["qty"]), str(r["entry_price"]))
        rows = conn.execute(
            "SELECT mode, strategy, symbol, side, qty, price, fee, time_ms FROM fills "
            "WHERE strategy NOT IN ('', 'manual') ORDER BY time_ms, trade_id"
        )
        state.strategy_fills = [
            StrategyFill(mode, strategy, symbol, side, qty, price, float(fee or 0.0), int(ms or 0))
            for mode, strategy, symbol, side, qty, price, fee, ms in rows
        ]
        state.fill_gaps = _fill_gaps(conn, terminal)
        return state
    finally:
        conn.row_factory = None


def _fill_gaps(conn: sqlite3.Connection, terminal: tuple[str, ...]) -> list[FillGap]:
    # Each recent live order the venue has (an id), with its journaled fills: a gap when it
    # was not ended, or when its fills add up to less than its filled quantity.
    since = time.time_ns() - _GAP_DAYS * 86_400 * 1_000_000_000
    rows = conn.execute(
        "SELECT o.client_id, o.symbol, o.venue_order_id, o.filled, o.status, o.strategy, "
        "f.trade_id, f.side, f.qty FROM orders o LEFT JOIN fills f "
        "ON f.client_id = o.client_id AND f.mode = 'live' "
        "WHERE o.mode = 'live' AND o.venue_order_id > 0 AND o.updated_ns >= ? "
        "ORDER BY o.created_ns",
        (since,),
    )
    orders: dict[str, tuple[FillGap, Decimal, Decimal, bool]] = {}  # gap, filled, summed, open
    for cid, symbol, venue_id, filled, status, strategy, trade_id, side, qty in rows:
        if cid not in orders:
            gap = FillGap(str(cid), str(symbol), int(venue_id), set(), str(strategy or ""))
            orders[cid] = (gap, _dec(filled), Decimal(0), status not in terminal)
        gap, total, summed, still_open = orders[cid]
        if trade_id is not None:
            gap.journaled.add((int(trade_id), str(side)))
            orders[cid] = (gap, total, summed + _dec(qty), still_open)
    return [
        gap for gap, total, summed, still_open in orders.values() if still_open or summed < total
    ]


def _dec(text: object) -> Decimal:
    try:
        return Decimal(str(text or "0"))
    except InvalidOperation:
        return Decimal(0)


# ---- records --------------------------------------------------------------------------------

# Record kinds on the queue; the writer applies a batch's records kind by kind in this order,
# each kind in arrival order (an order's row exists before its updates and events).
_ORDER_NEW, _ORDER_STATE, _EVENT, _FILL, _POSITION, _PNL, _AUDIT = range(7)
_SQL: Final = {
    _ORDER_NEW: "INSERT INTO orders (client_id, symbol, side, type, tif, qty, price, "
    "reduce_only, strategy, mode, status, created_ns, updated_ns) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(client_id) DO NOTHING",
    _ORDER_STATE: "UPDATE orders SET status = ?, filled = ?, avg_price = ?, reason = ?, "
    "venue_order_id = MAX(venue_order_id, ?), updated_ns = ? WHERE client_id = ?",
    _EVENT: "INSERT INTO order_events (ts_ns, client_id, kind, status, filled, reason) "
    "VALUES (?,?,?,?,?,?)",
    _FILL: "INSERT OR IGNORE INTO fills (mode, symbol, trade_id, client_id, venue_order_id, "
    "side, qty, price, fee, maker, strategy, time_ms, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    _POSITION: "INSERT INTO position_snapshots (ts_ns, mode, symbol, qty, entry_price, "
    "realized, fees, source) VALUES (?,?,?,?,?,?,?,?)",
    _PNL: "INSERT INTO daily_pnl (day, mode, realized, fees, funding, updated_ns) "
    "VALUES (?,?,?,?,?,?) ON CONFLICT(day, mode) DO UPDATE SET "
    "realized = realized + excluded.realized, fees = fees + excluded.fees, "
    "funding = funding + excluded.funding, updated_ns = excluded.updated_ns",
    _AUDIT: "INSERT INTO audit (ts_ns, kind, detail) VALUES (?,?,?)",
}
_HOLD: Final = -1  # a callback to run on the loop once everything before it is committed
_STOP: Final = -2

_Record = tuple[int, tuple[object, ...], int]  # kind, values, monotonic ns when queued
_Callback = Callable[[], None]


class Journal:
    """The journal file and its writer thread.

    Args:
        path: the SQLite file (created 0600 if missing).
        on_error: called on the loop with a sentence when a commit fails.

    Raises:
        JournalError: the file is not a database, is locked by another process, cannot be
            created, or has a newer schema.
    """

    def __init__(self, path: Path, on_error: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.on_error = on_error
        self.error = ""  # the last commit failure; "" while all is well
        self.batches = 0
        self.records = 0
        self.commit_s_max = 0.0
        self.commit_s_total = 0.0
        self.commit_latency = LatencyHistogram()  # per batch, for the metrics exporter
        self.write_lag = LatencyHistogram()  # per record, queued to committed
        self.committed_ns = 0  # wall clock of the last successful commit; 0 never
        self._queue: queue.SimpleQueue[_Record] = queue.SimpleQueue()
        self._loop_call: Callable[[Callable[[list[_Callback]], None], list[_Callback]], object]
        self._loop_call = lambda run, callbacks: run(callbacks)
        self._closed = False
        self._db = self._open(path)
        self.state = _load_state(self._db.conn)
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()

    @staticmethod
    def _open(path: Path) -> sqlite_utils.Database:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.fchmod(fd, 0o600)
            os.close(fd)
            conn = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
            )
        except OSError as exc:
            raise JournalError(f"cannot create the journal {path}: {exc.strerror or exc}") from exc
        try:
            # Autocommit mode: migrations and the writer thread say BEGIN and COMMIT.
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {path}: cannot use WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous=FULL")
            db = sqlite_utils.Database(conn)
            migrate(db)
            return db
        except sqlite3.DatabaseError as exc:
            conn.close()
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise JournalError(
                    f"journal {path} is locked by another process ({text}); is another engine "
                    "of this instance running?"
                ) from exc
            raise JournalError(
                f"journal {path} is not a readable SQLite database ({text}); move it aside "
                "to start a new one"
            ) from exc
        except JournalError:
            conn.close()
            raise

    def bind_loop(
        self,
        call_soon_threadsafe: Callable[
            [Callable[[list[_Callback]], None], list[_Callback]], object
        ],
    ) -> None:
        """Run `after_commit` callbacks on the engine's loop (its `call_soon_threadsafe`)."""
        self._loop_call = call_soon_threadsafe

    # ---- the loop's side: cheap appends ----------------------------------------------------

    def order_new(
        self,
        client_id: str,
        symbol: str,
        side: str,
        order_type: str,
        tif: str,
        qty: str,
        price: str,
        reduce_only: bool,
        strategy: str,
        mode: str,
        created_ns: int,
    ) -> None:
        """An order about to be sent (or submitted to paper), status PENDING_NEW."""
        self._put(
            (
                _ORDER_NEW,
                (
                    client_id, symbol, side, order_type, tif, qty, price, int(reduce_only),
                    strategy, mode, OrderStatus.PENDING_NEW.name, created_ns, created_ns,
                ),
            )
        )  # fmt: skip

    def order_state(
        self,
        client_id: str,
        status: str,
        filled: str,
        avg_price: str,
        reason: str,
        venue_order_id: int,
        updated_ns: int,
    ) -> None:
        """An order's state after a change."""
        self._put(
            (
                _ORDER_STATE,
                (status, filled, avg_price, reason, venue_order_id, updated_ns, client_id),
            )
        )

    def order_event(
        self, ts_ns: int, client_id: str, kind: str, status: str, filled: str, reason: str
    ) -> None:
        self._put((_EVENT, (ts_ns, client_id, kind, status, filled, reason)))

    def fill(
        self,
        mode: str,
        symbol: str,
        trade_id: int,
        client_id: str,
        venue_order_id: int,
        side: str,
        qty: str,
        price: str,
        fee: float,
        maker: bool,
        strategy: str,
        time_ms: int,
        source: str,
    ) -> None:
        """One venue (or paper) trade of one order; a trade already journaled (its trade id
        and side) is ignored."""
        self._put(
            (
                _FILL,
                (
                    mode, symbol, trade_id, client_id, venue_order_id, side, qty, price, fee,
                    int(maker), strategy, time_ms, source,
                ),
            )
        )  # fmt: skip

    def position(
        self,
        ts_ns: int,
        mode: str,
        symbol: str,
        qty: str,
        entry_price: str,
        realized: float,
        fees: float,
        source: str,
    ) -> None:
        self._put((_POSITION, (ts_ns, mode, symbol, qty, entry_price, realized, fees, source)))

    def daily_pnl(
        self, ts_ns: int, mode: str, realized: float, fees: float, funding: float = 0.0
    ) -> None:
        """Add a fill's realized P&L and fee, or a funding payment, to its UTC day's totals."""
        self._put((_PNL, (utc_day(ts_ns), mode, realized, fees, funding, ts_ns)))

    def audit(self, kind: str, detail: str) -> None:
        """A critical operation: mode, kill, rearm, manual orders, keys, config. `detail` is
        the caller's sentence and must never carry a secret."""
        self._put((_AUDIT, (time.time_ns(), kind, detail[:500])))

    def after_commit(self, callback: _Callback) -> None:
        """Run `callback` on the loop once every record queued so far is committed."""
        self._put((_HOLD, (callback,)))

    def _put(self, record: tuple[int, tuple[object, ...]]) -> None:
        # Stamped on the way in: the writer measures each record's wait until its commit.
        self._queue.put((*record, time.monotonic_ns()))

    def pending(self) -> int:
        """Records queued and not yet taken by the writer (approximate)."""
        return self._queue.qsize()

    # ---- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < _BATCH_MAX:
                    batch.append(self._queue.get_nowait())
            stopping = any(kind == _STOP for kind, _, _ in batch)
            self._commit(batch)
        self._db.conn.close()

    def _commit(self, batch: list[_Record]) -> None:
        groups: dict[int, list[tuple[object, ...]]] = {}
        callbacks: list[_Callback] = []
        for kind, values, _ in batch:
            if kind == _HOLD:
                callbacks.append(values[0])  # type: ignore[arg-type]
            elif kind >= 0:
                groups.setdefault(kind, []).append(values)
        if groups:
            started = time.perf_counter()
            conn = self._db.conn
            try:
                conn.execute("BEGIN")
                for kind in sorted(groups):
                    conn.executemany(_SQL[kind], groups[kind])
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                self._failed(f"journal {self.path}: commit failed ({exc}); records lost")
            else:
                spent = time.perf_counter() - started
                self.batches += 1
                self.records += sum(len(rows) for rows in groups.values())
                self.commit_s_total += spent
                self.commit_s_max = max(self.commit_s_max, spent)
                self.commit_latency.observe(int(spent * 1e9))
                done = time.monotonic_ns()
                lag = self.write_lag
                for kind, _, queued in batch:
                    if kind >= 0:
                        lag.observe(done - queued)
                self.committed_ns = time.time_ns()
                self.error = ""
        if callbacks:
            self._loop_call(_run_all, callbacks)

    def _failed(self, text: str) -> None:
        log.critical("journal commit failed", extra={"error": text})
        first = not self.error
        self.error = text
        if first and self.on_error is not None:
            on_error = self.on_error
            self._loop_call(_run_all, [lambda: on_error(text)])

    def close(self) -> None:
        """Commit everything queued, then stop the writer. Blocks until done: call it off the
        loop (`asyncio.to_thread`) or after the loop stopped."""
        if self._closed:
            return
        self._closed = True
        self._put((_STOP, ()))
        self._thread.join()

    def read(self, sql: str, params: Iterable[object] = ()) -> list[dict[str, object]]:
        """Rows from a separate read-only connection (WAL lets it read while the writer
        writes); for tests and tools, never the loop."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, tuple(params))]
        finally:
            conn.close()


def _run_all(callbacks: list[_Callback]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:  # one failing publish must not drop the others
            log.exception("journal callback failed")


def must_wait(event: Event) -> bool:
    """Whether the durability rule holds `event` until its records are committed: an
    acknowledgement, a fill, or an order's end."""
    if isinstance(event, OrderFilled):
        return True
    if isinstance(event, OrderChanged):
        return bool(event.client_id) and (
            event.status.terminal or event.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
        )
    return False


class DurablePublisher:
    """Publishes events to the TUI under the journal's durability rule (module docstring).

    Args:
        journal: the journal the records went to.
        publish: the event ring's publish.
    """

    def __init__(self, journal: Journal, publish: Callable[[Event], None]) -> None:
        self.journal = journal
        self.publish = publish
        self.waiting = 0  # events queued behind a commit; later ones queue behind them

    def __call__(self, event: Event) -> None:
        if self.waiting or must_wait(event):
            self.waiting += 1
            self.journal.after_commit(lambda: self._release(event))
        else:
            self.publish(event)

    def _release(self, event: Event) -> None:
        self.waiting -= 1
        self.publish(event)

    def alert(self, text: str) -> None:
        """A journal failure, for the trader."""
        self.publish(AlertRaised(logging.CRITICAL, text[:120]))
