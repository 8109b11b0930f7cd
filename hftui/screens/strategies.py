"""Strategies: the engine's strategy host at a glance, and its operator keys.

One row per strategy from the snapshot's strategies block (state, intents, open orders,
fills, its own P&L, on_book decision cost); below, the selected one's reason, last alert and
parameters. `p` pauses, `r` resumes, `L` reloads its file, `e` edits its parameters in place:
the engine checks them against the strategy's parameter class and answers here, a refusal
in words on the answer line with the text left to correct.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from hftui.link import Notice
from hftui.protocol import (
    Command,
    PauseStrategy,
    ReloadStrategy,
    ResumeStrategy,
    SetStrategyParams,
    StrategyFigures,
)

__all__ = ["StrategiesScreen", "format_us"]

_REFRESH_S: Final = 0.2
_COLUMNS: Final = (
    ("name", "strategy"),
    ("state", "state"),
    ("intents", "intents"),
    ("open", "open"),
    ("fills", "fills"),
    ("pnl", "P&L"),
    ("cost", "µs p50/p99"),
    ("max", "max"),
    ("errors", "err"),
)
_STATE_STYLE: Final = {"running": "green", "paused": "bold yellow", "failed": "bold red"}

# What the screen sends: a strategy command and its title; None when nothing could be sent
# (a watching TUI, no rings): the app has said why.
Send = Callable[[Command, str], Notice | None]


def format_us(ns: int) -> str:
    """Nanoseconds as microseconds, to one decimal below 10 µs."""
    us = ns / 1000
    return f"{us:.1f}" if us < 10 else f"{us:,.0f}"


def _num(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def _cells(row: StrategyFigures) -> tuple[Text | str, ...]:
    # Net of its own fills: realized + unrealized - fees (the detail line splits it up).
    net = row.realized + row.unrealized - row.fees
    return (
        row.name,
        Text(row.state, style=_STATE_STYLE.get(row.state, "")),
        _num(str(row.intents)),
        _num(str(row.open_orders)),
        _num(str(row.fills)),
        _num(f"{net:+,.2f}", "green" if net > 0 else "red" if net < 0 else ""),
        _num(f"{format_us(row.p50_ns)}/{format_us(row.p99_ns)}" if row.calls else "-"),
        _num(format_us(row.max_ns) if row.max_ns else "-"),
        _num(str(row.errors + row.overruns)),
    )


class StrategiesScreen(ModalScreen[None]):
    """The strategy host: state and figures of each strategy, pause/resume/reload/edit."""

    CSS_PATH = "strategies.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", id="strategies.pause", tooltip="Pause the strategy"),
        Binding("r", "resume", "Resume", id="strategies.resume", tooltip="Resume the strategy"),
        Binding(
            "L",
            "reload",
            "Reload",
            id="strategies.reload",
            tooltip="Reload the strategy's file now (state and orders carry over)",
        ),
        Binding(
            "e",
            "edit",
            "Edit params",
            id="strategies.edit",
            tooltip="Edit its parameters: enter sends them, escape leaves them",
        ),
        Binding("j", "move(1)", "Down", show=False, tooltip="Next strategy"),
        Binding("k", "move(-1)", "Up", show=False, tooltip="Previous strategy"),
        Binding(
            "escape",
            "close",
            "Close",
            id="strategies.close",
            tooltip="Close (while editing: leave the parameters as they are)",
        ),
    ]

    def __init__(self, rows: Callable[[], tuple[StrategyFigures, ...]], send: Send) -> None:
        """`rows()` gives the engine's strategies now; `send` sends a command for them."""
        super().__init__()
        self._rows_of = rows
        self._send = send
        self.rows: tuple[StrategyFigures, ...] = ()
        self.pending = 0  # request id of the command whose answer goes on the answer line
        self.editing = ""  # the strategy whose parameters the input holds

    def compose(self) -> ComposeResult:
        with Vertical(id="strategies-box") as box:
            box.border_title = "Strategies"
            table: DataTable[Text | str] = DataTable(id="strategies-table", cursor_type="row")
            for key, label in _COLUMNS:
                table.add_column(label, key=key)
            yield table
            yield Static("", id="strategies-detail", markup=False)
            # Not selected on focus: the trader edits one value in the line, and the first
            # key pressed must not replace all of them.
            yield Input(id="strategies-edit", placeholder="key=value ...", select_on_focus=False)
            yield Static("", id="strategies-answer", markup=False)
            yield Static(
                "p pause · r resume · L reload · e edit params · escape closes",
                id="strategies-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#strategies-edit", Input).display = False
        self.query_one("#strategies-table", DataTable).focus()
        self.refresh_rows()
        self.set_interval(_REFRESH_S, self.refresh_rows)

    # ---- showing ----------------------------------------------------------------------------

    @property
    def selected(self) -> StrategyFigures | None:
        table = self.query_one("#strategies-table", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def refresh_rows(self) -> None:
        rows = self._rows_of()
        if rows == self.rows:
            return
        table: DataTable[Text | str] = self.query_one("#strategies-table", DataTable)
        if [r.name for r in rows] != [r.name for r in self.rows]:
            cursor = table.cursor_row
            table.clear()
            for row in rows:
                table.add_row(*_cells(row), key=row.name)
            if rows:
                table.move_cursor(row=max(0, min(cursor, len(rows) - 1)))
        else:
            for old, new in zip(self.rows, rows, strict=True):
                if old == new:
                    continue
                for (column, _), cell in zip(_COLUMNS, _cells(new), strict=True):
                    table.update_cell(new.name, column, cell)
        self.rows = rows
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#strategies-detail", Static)
        row = self.selected
        if row is None:
            detail.update("no strategies: [strategies] enabled in the config names them")
            return
        lines = [
            f"{row.name}: {row.state}" + (f" ({row.why})" if row.why else ""),
            f"realized {row.realized:+,.2f}  unrealized {row.unrealized:+,.2f}  "
            f"fees {row.fees:,.2f}  held {row.held}  reloads {row.reloads}  "
            f"errors {row.errors}  overruns {row.overruns}",
            f"last: {row.last_alert or '-'}",
            f"params: {row.params or '-'}",
        ]
        detail.update("\n".join(lines))

    @on(DataTable.RowHighlighted, "#strategies-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def _answer_line(self, text: str, error: bool) -> None:
        line = self.query_one("#strategies-answer", Static)
        line.update(text)
        line.set_class(error, "-error")

    # ---- acting -----------------------------------------------------------------------------

    def _command(self, command: Command, title: str) -> bool:
        notice = self._send(command, title)
        if notice is None:
            return False
        if notice.pending:
            self.pending = notice.request_id
            self._answer_line(f"{title}: sent…", False)
        else:  # not sent (a full ring, no engine): the notice says why
            self._answer_line(notice.text, True)
        return True

    def answered(self, notice: Notice) -> None:
        """The engine's answer (or its absence) to this screen's last command."""
        if notice.request_id != self.pending or notice.pending or not self.pending:
            return
        self.pending = 0
        ok = notice.severity == "information"
        self._answer_line(notice.text, not ok)
        if not ok:
            self.app.bell()
        elif self.editing:
            self._stop_editing()

    def action_pause(self) -> None:
        if (row := self.selected) is not None:
            self._command(PauseStrategy(row.name), f"pause {row.name}")

    def action_resume(self) -> None:
        if (row := self.selected) is not None:
            self._command(ResumeStrategy(row.name), f"resume {row.name}")

    def action_reload(self) -> None:
        if (row := self.selected) is not None:
            self._command(ReloadStrategy(row.name), f"reload {row.name}")

    def action_move(self, step: int) -> None:
        table = self.query_one("#strategies-table", DataTable)
        table.move_cursor(row=max(0, table.cursor_row + step))

    def action_edit(self) -> None:
        row = self.selected
        if row is None:
            return
        self.editing = row.name
        edit = self.query_one("#strategies-edit", Input)
        edit.border_title = f"{row.name} parameters"
        edit.value = row.params
        edit.display = True
        edit.focus()
        edit.cursor_position = len(edit.value)
        self._answer_line(f"editing {row.name}: enter sends, escape leaves", False)

    @on(Input.Submitted, "#strategies-edit")
    def _submitted(self, event: Input.Submitted) -> None:
        text = " ".join(event.value.split())
        if not text:
            self._answer_line("no parameters: key=value ...", True)
            return
        if len(text.encode()) > 256:
            self._answer_line("too long: send only the parameters that change", True)
            return
        self._command(SetStrategyParams(self.editing, text), f"set {self.editing}")

    def _stop_editing(self) -> None:
        self.editing = ""
        edit = self.query_one("#strategies-edit", Input)
        edit.display = False
        self.query_one("#strategies-table", DataTable).focus()

    def action_close(self) -> None:
        if self.editing:
            self._stop_editing()
            self._answer_line("parameters left as they are", False)
            return
        self.dismiss(None)
