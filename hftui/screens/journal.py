"""The journal: the engine's orders and fills, newest first, filtered as you type.

The engine's journal (SQLite, WAL) is read here through a read-only connection in a thread,
so a large file or a writer mid-commit never stalls the screen. Only the newest `LIMIT` rows
that match are shown, with the count of all that match.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

__all__ = ["LIMIT", "TABLES", "JournalPage", "JournalScreen", "read_page"]

LIMIT: Final = 500
_BUSY_TIMEOUT_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class _Table:
    """How one journal table is shown: its columns (SQL, heading) and its newest-first order."""

    name: str
    columns: tuple[tuple[str, str], ...]
    order: str
    words: tuple[str, ...]  # columns a free word is looked for in
    fields: dict[str, str] = field(default_factory=dict)  # `name:value` -> column


TABLES: Final = {
    "orders": _Table(
        "orders",
        (
            ("created_ns", "time UTC"),
            ("mode", "mode"),
            ("symbol", "symbol"),
            ("side", "side"),
            ("qty", "qty"),
            ("price", "price"),
            ("status", "status"),
            ("filled", "filled"),
            ("avg_price", "avg"),
            ("reason", "reason"),
            ("type", "type"),
            ("client_id", "client id"),
            ("strategy", "strategy"),
        ),
        "created_ns DESC, client_id DESC",
        ("symbol", "side", "type", "mode", "status", "reason", "client_id", "strategy"),
        {
            "symbol": "symbol",
            "side": "side",
            "mode": "mode",
            "status": "status",
            "type": "type",
            "reason": "reason",
            "strategy": "strategy",
            "id": "client_id",
        },
    ),
    "fills": _Table(
        "fills",
        (
            ("time_ms", "time UTC"),
            ("mode", "mode"),
            ("symbol", "symbol"),
            ("side", "side"),
            ("qty", "qty"),
            ("price", "price"),
            ("fee", "fee"),
            ("maker", "liq"),
            ("client_id", "client id"),
            ("trade_id", "trade id"),
            ("strategy", "strategy"),
            ("source", "source"),
        ),
        "time_ms DESC, trade_id DESC",
        ("symbol", "side", "mode", "client_id", "strategy", "source", "CAST(trade_id AS TEXT)"),
        {
            "symbol": "symbol",
            "side": "side",
            "mode": "mode",
            "strategy": "strategy",
            "source": "source",
            "id": "client_id",
        },
    ),
}


@dataclass(frozen=True, slots=True)
class JournalPage:
    """What one read found: formatted rows (newest first), how many match, or why none."""

    table: str
    rows: list[tuple[str, ...]]
    matching: int
    error: str = ""


def _like(text: str) -> str:
    # The trader's text is matched literally: % and _ are not wildcards here.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(table: _Table, filter_text: str) -> tuple[str, list[object]]:
    """`filter_text` as SQL: every word must match; `field:value` matches that field (case
    aside), a bare word any of the table's text columns.

    Raises:
        ValueError: a `field:` the table does not have.
    """
    clauses: list[str] = []
    params: list[object] = []
    for word in filter_text.split():
        name, colon, value = word.partition(":")
        if colon and name:
            column = table.fields.get(name.lower())
            if column is None:
                known = ", ".join(f"{f}:" for f in table.fields)
                raise ValueError(f"{table.name} have no {name}: field; use {known} or words")
            clauses.append(f"{column} LIKE ? ESCAPE '\\'")
            params.append(_like(value))
        else:
            ors = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in table.words)
            clauses.append(f"({ors})")
            params += [f"%{_like(word)}%"] * len(table.words)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _time(value: object, per_second: int) -> str:
    if not isinstance(value, int) or value <= 0:
        return ""
    moment = datetime.fromtimestamp(value / per_second, tz=UTC)
    return moment.strftime("%m-%d %H:%M:%S")


def _cell(column: str, value: object) -> str:
    if column == "created_ns":
        return _time(value, 1_000_000_000)
    if column == "time_ms":
        return _time(value, 1000)
    if column == "maker":
        return "maker" if value else "taker"
    if column == "fee" and isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if column in ("side", "type", "status", "reason"):
        return str(value or "").lower()
    return "" if value is None else str(value)


def _row(names: list[str], values: tuple[object, ...]) -> tuple[str, ...]:
    cells = {n: _cell(n, v) for n, v in zip(names, values, strict=True)}
    if cells.get("type") == "market" and not cells.get("price"):
        cells["price"] = "market"  # in the price column, where the eye looks for it
    return tuple(cells.values())


def read_page(
    path: Path, table_name: str, filter_text: str = "", limit: int = LIMIT
) -> JournalPage:
    """The newest `limit` rows of `table_name` ("orders" or "fills") matching `filter_text`.

    Reads through a read-only connection (`mode=ro`): never creates the file, never writes.
    Blocks on SQLite: call it from a thread.
    """
    table = TABLES[table_name]
    if not path.exists():
        return JournalPage(
            table_name,
            [],
            0,
            f"no journal at {path} yet: the engine starts it on its first run and records "
            "every order and fill there",
        )
    try:
        where, params = _where(table, filter_text)
    except ValueError as exc:
        return JournalPage(table_name, [], 0, str(exc))
    columns = ", ".join(c for c, _ in table.columns)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        return JournalPage(table_name, [], 0, f"cannot open the journal {path}: {exc}")
    try:
        matching = int(
            conn.execute(f"SELECT COUNT(*) FROM {table.name}{where}", params).fetchone()[0]  # noqa: S608
        )
        cursor = conn.execute(
            f"SELECT {columns} FROM {table.name}{where} ORDER BY {table.order} LIMIT ?",  # noqa: S608
            [*params, limit],
        )
        names = [c for c, _ in table.columns]
        rows = [_row(names, r) for r in cursor]
    except sqlite3.Error as exc:
        text = str(exc)
        if "no such table" in text:
            text = f"the journal {path} has no {table.name} yet ({text})"
        else:
            text = f"cannot read the journal {path}: {text}"
        return JournalPage(table_name, [], 0, text)
    finally:
        conn.close()
    return JournalPage(table_name, rows, matching)


class JournalScreen(ModalScreen[None]):
    """Orders or fills from the journal in a table, with a filter line above it."""

    CSS_PATH = "journal.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "t",
            "toggle_table",
            "Orders/fills",
            id="journal.toggle",
            tooltip="Switch between orders and fills",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="journal.filter",
            tooltip="Filter: words match any column; symbol:, side:, mode:, status:, id: one",
        ),
        Binding("r", "reload", "Reload", id="journal.reload", tooltip="Read the journal again"),
        Binding(
            "escape,q",
            "close",
            "Close",
            id="journal.close",
            tooltip="Close (escape in the filter: back to the table)",
        ),
    ]

    def __init__(self, path: Path, limit: int = LIMIT) -> None:
        """Show the journal at `path` (it need not exist yet)."""
        super().__init__()
        self.path = path
        self.limit = limit
        self.table_name = "orders"
        self.page: JournalPage | None = None
        self._asked = 0  # reads requested; an older read's answer is dropped

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-box") as box:
            box.border_title = "Journal"
            with Horizontal(id="journal-top"):
                yield Static(" orders ", id="journal-tab-orders", classes="journal-tab")
                yield Static(" fills ", id="journal-tab-fills", classes="journal-tab")
                yield Input(
                    placeholder="/ filter: BTCUSDT side:buy mode:paper status:filled …",
                    id="journal-filter",
                )
            table: DataTable[str] = DataTable(id="journal-table", cursor_type="row")
            table.zebra_stripes = True
            yield table
            yield Static("reading…", id="journal-status", markup=False)
            yield Static(
                "t orders/fills · / filter · r reload · escape closes",
                id="journal-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self._show_tabs()
        self.query_one("#journal-table", DataTable).focus()
        self.reload()

    def _show_tabs(self) -> None:
        for name in TABLES:
            tab = self.query_one(f"#journal-tab-{name}", Static)
            tab.set_class(name == self.table_name, "-current")

    def reload(self) -> None:
        self._asked += 1
        text = self.query_one("#journal-filter", Input).value
        self.read(self._asked, self.table_name, text)

    @work(thread=True, exclusive=True, group="journal-read")
    def read(self, asked: int, table_name: str, filter_text: str) -> None:
        page = read_page(self.path, table_name, filter_text, self.limit)
        self.app.call_from_thread(self._show_page, asked, page)

    def _show_page(self, asked: int, page: JournalPage) -> None:
        if asked != self._asked or not self.is_attached:
            return  # a newer read (another filter, the other table) is on its way
        self.page = page
        table = self.query_one("#journal-table", DataTable)
        table.clear(columns=True)
        # Widths from the cells, given up front: one layout pass, the same every time.
        for n, (column, heading) in enumerate(TABLES[page.table].columns):
            width = max((len(row[n]) for row in page.rows), default=0)
            table.add_column(heading, key=column, width=max(width, len(heading)))
        table.add_rows(page.rows)
        status = self.query_one("#journal-status", Static)
        status.set_class(bool(page.error), "-error")
        if page.error:
            status.update(page.error)
            return
        filtered = self.query_one("#journal-filter", Input).value.strip()
        matching = f"{page.matching:,} {page.table}"
        if filtered:
            matching += f" matching {filtered!r}"
        shown = (
            f"the newest {len(page.rows):,} of {matching}"
            if len(page.rows) < page.matching
            else matching
        )
        status.update(f"{shown}, newest first · {self.path.name}")

    # ---- actions --------------------------------------------------------------------------

    def action_toggle_table(self) -> None:
        self.table_name = "fills" if self.table_name == "orders" else "orders"
        self._show_tabs()
        self.reload()

    def action_filter(self) -> None:
        self.query_one("#journal-filter", Input).focus()

    def action_reload(self) -> None:
        self.reload()

    @on(Input.Changed, "#journal-filter")
    def filter_changed(self) -> None:
        self.reload()

    @on(Input.Submitted, "#journal-filter")
    def filter_done(self) -> None:
        self.query_one("#journal-table", DataTable).focus()

    def action_close(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one("#journal-table", DataTable).focus()
            return
        self.dismiss(None)
