"""The price chart: the shown symbol's mid over the last minutes, in braille (Line API).

The TUI keeps its own short history per symbol (`PriceHistory`), sampled from the books it
already reads every frame, so the chart needs nothing more from the engine. Samples are
spaced in time, not per frame, so the window covers minutes whatever the refresh rate; a
stale book is not sampled, which leaves a gap rather than a flat line that looks live.

The plot is bucketed by time (two braille columns a cell), each bucket drawn from its low
to its high and joined to the one before, so a jump never shows as dots floating apart. It
repaints only when a sample is added, the symbol changes, the data turns stale or the size
changes. Below four rows it shrinks to a one-line sparkline between its low and high.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar, Final

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from hftui.link import EngineView, SymbolView, age_text
from hftui.protocol import format_units

__all__ = ["PriceChart", "PriceHistory", "plot_braille", "plot_sparkline"]

# A sample: (wall clock ns, bid + ask in price units: twice the mid, kept exact).
Sample = tuple[int, int]

_BLOCKS: Final = "▁▂▃▄▅▆▇█"
# Braille dot bits by (column in the cell, row in the cell from the top).
_DOTS: Final = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


class PriceHistory:
    """A fixed-size mid history per symbol, at most one sample per `every_s`.

    Args:
        capacity: samples kept per symbol (the oldest go first).
        every_s: the least time between two samples of a symbol.
    """

    def __init__(self, capacity: int = 1200, every_s: float = 0.25) -> None:
        self.capacity = capacity
        self.every_ns = int(every_s * 1e9)
        self._series: dict[str, deque[Sample]] = {}
        self._decimals: dict[str, int] = {}

    def record(self, symbol: SymbolView, now_ns: int) -> bool:
        """Sample `symbol`'s mid at `now_ns` if it is due and trustworthy; True if added."""
        if symbol.stale or symbol.bid_units < 0 or symbol.ask_units < 0:
            return False
        series = self._series.get(symbol.symbol)
        if series is None or self._decimals.get(symbol.symbol) != symbol.price_decimals:
            # A new symbol, or one whose grid changed: old units would not compare.
            series = self._series[symbol.symbol] = deque(maxlen=self.capacity)
            self._decimals[symbol.symbol] = symbol.price_decimals
        elif now_ns - series[-1][0] < self.every_ns:
            return False
        series.append((now_ns, symbol.bid_units + symbol.ask_units))
        return True

    def add(self, symbol: str, decimals: int, now_ns: int, two_mid: int) -> None:
        """Append one sample as it was taken (replaying a history, or in tests)."""
        if self._decimals.get(symbol) != decimals:
            self._series[symbol] = deque(maxlen=self.capacity)
            self._decimals[symbol] = decimals
        self._series[symbol].append((now_ns, two_mid))

    def series(self, symbol: str) -> Sequence[Sample]:
        """`symbol`'s samples, oldest first (empty if it has none)."""
        return self._series.get(symbol, ())


def _buckets(samples: Sequence[Sample], n: int) -> list[tuple[int, int, int] | None]:
    # Per time bucket: (low, high, last), or None before the first sample. Empty buckets
    # after it carry the last value on: the price stood there until the next sample.
    start, end = samples[0][0], samples[-1][0]
    span = max(1, end - start)
    out: list[tuple[int, int, int] | None] = [None] * n
    for t, v in samples:
        k = min(n - 1, (t - start) * n // span)
        cell = out[k]
        out[k] = (v, v, v) if cell is None else (min(cell[0], v), max(cell[1], v), v)
    last: tuple[int, int, int] | None = None
    for k, cell in enumerate(out):
        if cell is None and last is not None:
            out[k] = (last[2], last[2], last[2])
        last = out[k]
    return out


def plot_braille(samples: Sequence[Sample], width: int, height: int) -> list[str]:
    """`height` lines of `width` braille cells: the samples over their time span, the
    lowest value on the bottom dot row and the highest on the top one."""
    if width <= 0 or height <= 0:
        return []
    if not samples:
        return [" " * width] * height
    cols, rows = width * 2, height * 4
    buckets = _buckets(samples, cols)
    low = min(v for _, v in samples)
    high = max(v for _, v in samples)

    def row_of(v: int) -> int:
        return rows // 2 if high == low else round((high - v) * (rows - 1) / (high - low))

    grid = [[0] * width for _ in range(height)]
    previous: int | None = None
    for x, cell in enumerate(buckets):
        if cell is None:
            continue
        top, bottom = row_of(cell[1]), row_of(cell[0])
        if previous is not None:  # joined to the last bucket's close
            top, bottom = min(top, row_of(previous)), max(bottom, row_of(previous))
        for y in range(top, bottom + 1):
            grid[y // 4][x // 2] |= _DOTS[x % 2][y % 4]
        previous = cell[2]
    return ["".join(chr(0x2800 + bits) for bits in line) for line in grid]


def plot_sparkline(samples: Sequence[Sample], width: int) -> str:
    """One line of `width` block characters: each cell's last value, low to high."""
    if width <= 0:
        return ""
    if not samples:
        return " " * width
    buckets = _buckets(samples, width)
    values = [cell[2] for cell in buckets if cell is not None]
    low, high = min(values), max(values)
    top = len(_BLOCKS) - 1
    line = "".join(
        " "
        if cell is None
        else _BLOCKS[0 if high == low else round((cell[2] - low) * top / (high - low))]
        for cell in buckets
    )
    return line


def _fit(segments: list[Segment], width: int, base: Style) -> Strip:
    return Strip(segments).adjust_cell_length(width, base)


def mid_text(two_mid: int, decimals: int) -> str:
    """Twice the mid in price units as the mid's decimal text (one more decimal at most)."""
    text = format_units(two_mid * 5, decimals + 1)
    return text[:-1] if text.endswith("0") else text


class PriceChart(Widget):
    """The mid of one symbol over the recent window, with its low, high and time span."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--up",
        "chart--down",
        "chart--flat",
        "chart--label",
        "chart--stale",
        "chart--message",
    }

    def __init__(self, history: PriceHistory | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history if history is not None else PriceHistory()
        self.symbol = ""
        self.decimals = 0
        self.stale = True
        self.note = ""
        self._key: object = None
        self._lines: tuple[object, list[Strip]] = (None, [])
        self.border_title = "mid"

    def show(self, view: EngineView, selected: int, note: str = "") -> None:
        """Sample every symbol of `view`, and draw the selected one (greyed out if stale).

        Args:
            view: this frame's engine state; its clock times the samples.
            selected: index of the symbol shown.
            note: why the engine's data cannot be trusted now ("" when it can).
        """
        for symbol in view.symbols:
            self.history.record(symbol, view.now_ns)
        shown = view.symbols[selected] if selected < len(view.symbols) else None
        stale = bool(note) or shown is None or shown.stale
        series = self.history.series(shown.symbol) if shown is not None else ()
        last = series[-1] if series else None
        key = (shown.symbol if shown else "", len(series), last, stale, note)
        if key == self._key:
            return
        self._key = key
        self.symbol = shown.symbol if shown is not None else ""
        self.decimals = shown.price_decimals if shown is not None else 0
        self.stale, self.note = stale, note
        self.border_title = f"{self.symbol} mid" if self.symbol else "mid"
        if shown is not None and shown.mid != "-":
            self.border_title += f" {shown.mid}"
        self.set_class(stale, "-stale")
        self._lines = (None, [])
        self.refresh()

    @property
    def samples(self) -> Sequence[Sample]:
        """The shown symbol's samples, oldest first."""
        return self.history.series(self.symbol) if self.symbol else ()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height, self._key)
        if self._lines[0] != key:
            self._lines = (key, self._render_lines(width, height))
        lines = self._lines[1]
        return lines[y] if y < len(lines) else Strip.blank(width, self.rich_style)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style("chart--stale" if self.stale else name)

    def _render_lines(self, width: int, height: int) -> list[Strip]:
        samples = self.samples
        if len(samples) < 2 or width < 8 or height < 1:  # one sample is no history yet
            text = self.note or ("stale: no prices" if self.stale else "collecting prices…")
            style = self.get_component_rich_style("chart--message")
            return [
                _fit(
                    [Segment((text if y == height // 2 else "")[:width].center(width), style)],
                    width,
                    self.rich_style,
                )
                for y in range(height)
            ]
        values = [v for _, v in samples]
        low, high = min(values), max(values)
        first, last = values[0], values[-1]
        trend = "chart--up" if last > first else "chart--down" if last < first else "chart--flat"
        line_style, label_style = self._style(trend), self._style("chart--label")
        low_text, high_text = mid_text(low, self.decimals), mid_text(high, self.decimals)
        span = age_text((samples[-1][0] - samples[0][0]) / 1e9)
        if height < 3:
            strips = self._one_line(samples, width, low_text, high_text, line_style)
            if height == 2:
                strips.append(self._axis(span, 0, width))
            return strips
        label = max(len(low_text), len(high_text))
        plot_width = width - label - 1
        plot_rows = height - 1  # the last row is the time axis
        plotted = plot_braille(samples, plot_width, plot_rows)
        strips = []
        for y, dots in enumerate(plotted):
            tag = high_text if y == 0 else low_text if y == plot_rows - 1 else ""
            segments = [Segment(f"{tag:>{label}} ", label_style), Segment(dots, line_style)]
            strips.append(_fit(segments, width, self.rich_style))
        strips.append(self._axis(span, label + 1, width))
        return strips

    def _axis(self, span: str, indent: int, width: int) -> Strip:
        # The time axis under the plot: how far back its left edge is, and now.
        left, right, room = f"{span} ago", "now", width - indent
        axis = f"{left}{right:>{max(0, room - len(left))}}"[:room]
        return _fit(
            [Segment(" " * indent + axis, self._style("chart--label"))], width, self.rich_style
        )

    def _one_line(
        self, samples: Sequence[Sample], width: int, low: str, high: str, style: Style
    ) -> list[Strip]:
        # Too short for a plot: low, a sparkline, high on one line (the labels go first
        # when even that is too narrow).
        label_style = self._style("chart--label")
        room = width - len(low) - len(high) - 2
        if room >= 8:
            segments = [
                Segment(f"{low} ", label_style),
                Segment(plot_sparkline(samples, room), style),
                Segment(f" {high}", label_style),
            ]
        else:
            segments = [Segment(plot_sparkline(samples, width), style)]
        return [_fit(segments, width, self.rich_style)]
