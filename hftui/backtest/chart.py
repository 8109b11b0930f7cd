"""Terminal line charts in braille (2 x 4 dots a cell), and one-line sparklines.

Standard library only: the TUI draws report charts with it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["braille_chart", "sparkline"]

_BLOCKS: Final = "▁▂▃▄▅▆▇█"
# Braille dot bits by (column in cell, row in cell from the top).
_DOTS: Final = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def _resample(values: Sequence[float], n: int) -> list[float]:
    """`n` points of `values`: the value at each point's position (nearest below)."""
    if not values:
        return []
    if len(values) == 1:
        return [values[0]] * n
    last = len(values) - 1
    return [values[round(k * last / (n - 1))] if n > 1 else values[-1] for k in range(n)]


def sparkline(values: Sequence[float], width: int) -> str:
    """One line of block characters, lowest to highest."""
    points = _resample(values, max(1, width))
    if not points:
        return ""
    low, high = min(points), max(points)
    span = high - low
    if span <= 0:
        return _BLOCKS[0] * len(points)
    top = len(_BLOCKS) - 1
    return "".join(_BLOCKS[round((v - low) / span * top)] for v in points)


def braille_chart(values: Sequence[float], width: int, height: int) -> list[str]:
    """`height` lines of `width` braille cells: the series as a connected line, the lowest
    value on the bottom dot row and the highest on the top one."""
    cols, rows = width * 2, height * 4
    points = _resample(values, cols)
    grid = [[0] * width for _ in range(height)]
    if not points:
        return ["" for _ in range(height)]
    low, high = min(points), max(points)
    span = high - low

    def row_of(v: float) -> int:
        return rows - 1 if span <= 0 else round((high - v) / span * (rows - 1))

    prev = row_of(points[0])
    for x, v in enumerate(points):
        y = row_of(v)
        # Fill the vertical run from the previous point so steep moves stay connected.
        for yy in range(min(prev, y), max(prev, y) + 1):
            grid[yy // 4][x // 2] |= _DOTS[x % 2][yy % 4]
        prev = y
    return ["".join(chr(0x2800 + bits) for bits in line) for line in grid]
