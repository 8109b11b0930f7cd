"""One line for trading control: the kill latch, order counters and the last notice.

The latch comes first (killed, since when and why, or armed); then the last thing the
trader was told (a command on its way, its answer or refusal, an alert, a mode change),
which stays until the next one replaces it, so a refusal cannot scroll away unseen. When the
notice does not fit, the counters and the re-arm hint make room first, then the notice is
cut short; its full text was also shown as a notification.
"""

from __future__ import annotations

from typing import ClassVar, Final, TypeAlias

from rich.segment import Segment
from textual.strip import Strip

from hftui.link import EngineStatus, EngineView, Notice
from hftui.widgets.lines import DrawnLines

__all__ = ["NoticeBar", "fit_notice"]

_SEPARATOR: Final = " │ "
_KEEP: Final = 9  # pieces this important stay, however long the notice
_HINT: Final = "ctrl+k kills from anywhere · m mode · ? keys"

_SEVERITY_CLASS: Final = {
    "information": "notice-bar--ok",
    "warning": "notice-bar--warn",
    "error": "notice-bar--bad",
}

# A fixed piece: (importance, text, component class); the least important goes first.
_Piece: TypeAlias = tuple[int, str, str]


def _pieces(view: EngineView) -> list[_Piece]:
    pieces: list[_Piece] = []
    if view.killed:
        latch = "KILLED"
        if view.killed_at:
            latch += f" {view.killed_at}"
        if view.kill_reason:
            latch += f": {view.kill_reason}"
        if view.kill_flatten:
            latch += " + flatten"
        pieces += [(_KEEP, latch, "notice-bar--killed"), (4, "R re-arms", "notice-bar--warn")]
    elif view.status is not EngineStatus.WAITING:
        pieces.append((_KEEP, "armed", "notice-bar--ok"))
    if view.status is not EngineStatus.WAITING:
        counters = f"{view.open_orders} open · {view.refusals} refused"
        pieces.append((3, counters, "notice-bar--muted"))
    return pieces


def _notice(notice: Notice | None) -> tuple[str, str]:
    if notice is None:
        return _HINT, "notice-bar--muted"
    if notice.pending:
        return notice.line, "notice-bar--muted"
    return notice.line, _SEVERITY_CLASS[notice.severity]


def fit_notice(view: EngineView, notice: Notice | None, width: int) -> list[tuple[str, str]]:
    """The notice line for `width` cells: (text, component class) pairs, separators included.

    The latch is always kept; lower pieces are dropped while the notice does not fit whole,
    then the notice is cut with an ellipsis.
    """
    pieces = _pieces(view)
    text, style = _notice(notice)

    def room(kept: list[_Piece]) -> int:
        return width - 1 - sum(len(t) + len(_SEPARATOR) for _, t, _ in kept)

    while room(pieces) < len(text):
        droppable = [piece for piece in pieces if piece[0] < _KEEP]
        if not droppable:
            break
        pieces.remove(min(droppable, key=lambda piece: piece[0]))
    left = max(0, room(pieces))
    if len(text) > left:
        text = text[: left - 1] + "…" if left else ""
    line: list[tuple[str, str]] = [(" ", "")]
    for _, piece, piece_style in pieces:
        line += [(piece, piece_style), (_SEPARATOR, "notice-bar--separator")]
    line.append((text, style))
    return line


class NoticeBar(DrawnLines):
    """The kill latch, order counters and the last notice, on one line."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "notice-bar--ok",
        "notice-bar--warn",
        "notice-bar--bad",
        "notice-bar--killed",
        "notice-bar--muted",
        "notice-bar--separator",
    }

    DEFAULT_CSS = """
    NoticeBar { height: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: EngineView | None = None
        self.notice: Notice | None = None
        self._key: object = ()

    def show(self, view: EngineView, notice: Notice | None) -> None:
        """Draw the latch and counters of `view`, and `notice` (None: nothing told yet)."""
        key = (
            view.status is EngineStatus.WAITING,
            view.killed,
            view.killed_at,
            view.kill_reason,
            view.kill_flatten,
            view.open_orders,
            view.refusals,
            notice,
        )
        if key == self._key:
            return
        self._key = key
        self.view = view
        self.notice = notice
        self.refresh()

    @property
    def text(self) -> str:
        """The line as drawn at the current width."""
        if self.view is None:
            return ""
        return "".join(text for text, _ in fit_notice(self.view, self.notice, self.size.width))

    def draw_key(self) -> object:
        return self._key

    def draw(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style
        lines = [Strip.blank(width, base)] * height
        if self.view is not None and height:
            segments = [
                Segment(text, base + self.part_style(cls) if cls else base)
                for text, cls in fit_notice(self.view, self.notice, width)
            ]
            lines[0] = Strip(segments).extend_cell_length(width, base).crop(0, width)
        return lines
