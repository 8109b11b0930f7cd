"""Recent engine alerts, newest first: time, severity and text (Line API), scrollable.

The app hands over every alert notice it reads from the event ring, before a burst is cut
down to a few notifications, so the panel keeps what the toasts had to leave out. An alert
that repeats the one before it is counted on that row rather than added again: a noisy
strategy cannot push everything else out. Long texts wrap under their own start, once per
new alert or width (not per frame), and the lines on screen are kept until they change
(`DrawnLines`).

Focused (`a` on the dashboard), up/down (k/j), page up/down, home and end scroll it;
escape hands the focus back to the ladder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.strip import Strip

from hftui.link import Notice, Severity
from hftui.widgets.lines import DrawnLines

__all__ = ["ALERT_TITLE", "AlertRow", "AlertsPanel", "wrap_alert"]

ALERT_TITLE: Final = "alert"  # the notice title `CommandLink` gives an AlertRaised event
_CAPACITY: Final = 200
_LEVEL: Final[dict[Severity, str]] = {"error": "ERROR", "warning": "WARN", "information": "INFO"}
_CLASS: Final[dict[Severity, str]] = {
    "error": "alerts--error",
    "warning": "alerts--warning",
    "information": "alerts--info",
}
_TIME = 8  # HH:MM:SS
_INDENT = _TIME + 1 + 5 + 1  # where the text starts: time, level, a space each


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert as listed: `count` times in a row, the last at `time` (UTC)."""

    time: str
    severity: Severity
    text: str
    count: int = 1


def wrap_alert(row: AlertRow, width: int) -> list[str]:
    """`row` as lines of at most `width` cells: the text wraps under its own start."""
    text = row.text if row.count == 1 else f"{row.text} (x{row.count})"
    head = f"{row.time:<{_TIME}} {_LEVEL[row.severity]:<5} "
    room = width - _INDENT
    if room < 12:  # too narrow to indent: one cut line
        line = head + text
        return [line if len(line) <= width else line[: max(0, width - 1)] + "…"]
    lines: list[str] = []
    words = text.split(" ")
    current = ""
    for word in words:
        while len(word) > room:  # a word longer than the room is broken, not lost
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:room])
            word = word[room:]
        if current and len(current) + 1 + len(word) > room:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return [head + lines[0], *(" " * _INDENT + line for line in lines[1:])]


class AlertsPanel(DrawnLines, can_focus=True):
    """The engine's recent alerts, newest first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_by(-1)", "Up", show=False, tooltip="Alerts: scroll up (newer)"),
        Binding(
            "down,j", "scroll_by(1)", "Down", show=False, tooltip="Alerts: scroll down (older)"
        ),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip="Alerts: a page newer"),
        Binding("pagedown", "page(1)", "Page down", show=False, tooltip="Alerts: a page older"),
        Binding("home", "scroll_to(0)", "Newest", show=False, tooltip="Alerts: the newest"),
        Binding("end", "scroll_to(-1)", "Oldest", show=False, tooltip="Alerts: the oldest"),
        Binding(
            "escape",
            "screen.focus_ladder",
            "Ladder",
            id="alerts.back",
            show=False,
            tooltip="Alerts: back to the ladder",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "alerts--time",
        "alerts--error",
        "alerts--warning",
        "alerts--info",
        "alerts--message",
    }

    def __init__(self, *, id: str | None = None, capacity: int = _CAPACITY) -> None:
        super().__init__(id=id)
        self.rows: deque[AlertRow] = deque(maxlen=capacity)  # newest first
        self.total = 0  # alerts received, repeats included
        self.top = 0  # first display line shown
        self._version = 0
        self._lines: tuple[object, list[tuple[str, Severity, bool]]] = (None, [])
        self._titles()

    def record(self, notices: Iterable[Notice]) -> None:
        """Keep the alerts among `notices` (oldest first, as the event ring gave them)."""
        added = False
        for notice in notices:
            if notice.title != ALERT_TITLE:
                continue
            added = True
            self.total += 1
            newest = self.rows[0] if self.rows else None
            if newest is not None and (newest.text, newest.severity) == (
                notice.text,
                notice.severity,
            ):
                self.rows[0] = AlertRow(notice.time, notice.severity, notice.text, newest.count + 1)
            else:
                self.rows.appendleft(AlertRow(notice.time, notice.severity, notice.text))
        if added:
            self._version += 1
            self._titles(self.has_focus)
            self.refresh()

    def _titles(self, focused: bool = False) -> None:
        count = f" {len(self.rows)}" if self.rows else ""
        self.border_title = f"alerts{count}"
        self.border_subtitle = "esc back" if focused else "a scrolls"

    def _display(self) -> list[tuple[str, Severity, bool]]:
        # (text, severity, first line of its alert) per display line, for the width now.
        width = self.size.width
        key = (self._version, width)
        if self._lines[0] != key:
            lines = []
            for row in self.rows:
                for k, text in enumerate(wrap_alert(row, width)):
                    lines.append((text, row.severity, k == 0))
            self._lines = (key, lines)
        return self._lines[1]

    @property
    def lines(self) -> list[str]:
        """Every display line at the current width, newest alert first."""
        return [text for text, _, _ in self._display()]

    def _clamp(self, top: int) -> int:
        return max(0, min(top, len(self._display()) - self.size.height))

    def action_scroll_by(self, lines: int) -> None:
        self._scroll(self.top + lines)

    def action_page(self, pages: int) -> None:
        self._scroll(self.top + pages * max(1, self.size.height - 1))

    def action_scroll_to(self, line: int) -> None:
        self._scroll(len(self._display()) if line < 0 else line)

    def _scroll(self, top: int) -> None:
        top = self._clamp(top)
        if top != self.top:
            self.top = top
            self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_scroll_by(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_scroll_by(-3)

    def on_focus(self) -> None:
        self._titles(focused=True)

    def on_blur(self) -> None:
        self._titles()

    def on_resize(self) -> None:
        self.top = self._clamp(self.top)

    def draw_key(self) -> object:
        return (self._version, self.top)

    def draw(self, width: int, height: int) -> list[Strip]:
        lines = self._display()
        if not lines:
            style = self.part_style("alerts--message")
            blank = Strip.blank(width, self.rich_style)
            drawn = [blank] * height
            if height > 1:
                text = "no alerts yet".center(width)[:width]
                drawn[1] = Strip([Segment(text, style)]).adjust_cell_length(width, self.rich_style)
            return drawn
        time_style = self.part_style("alerts--time")
        drawn = []
        for text, severity, first in lines[self.top : self.top + height]:
            style = self.part_style(_CLASS[severity])
            if first:
                segments = [Segment(text[:_TIME], time_style), Segment(text[_TIME:], style)]
            else:
                segments = [Segment(text, style)]
            drawn.append(Strip(segments).adjust_cell_length(width, self.rich_style))
        drawn += [Strip.blank(width, self.rich_style)] * (height - len(drawn))
        return drawn
