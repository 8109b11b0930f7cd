"""Readable with 16 colours: every screen, its colours brought down to the terminal's 16 as a
16-colour terminal shows them (rich's own downgrade), never puts text in the colour of its
own background. The screens are composited as Textual paints them, with the stub engine's
state in every panel (a position, open orders, strategies, alerts)."""

from __future__ import annotations

import pytest
from rich.color import ColorSystem
from textual.pilot import Pilot
from textual.screen import ModalScreen

from hftui.app import HftuiApp
from hftui.protocol import AlertRaised
from tests.ui.conftest import Desk
from tests.ui.stub_engine import StubStrategy
from tests.ui.test_panels import with_orders, with_position

SIZES = [(80, 24), (160, 48)]


# Drawn, not read: the footer's divider and the edges of buttons' tall borders (a depth
# bar's partial end glyphs too, but never its full blocks, which are still judged).
_DECORATION = frozenset("▏▎▊▔▁")


def invisible(app: HftuiApp) -> list[str]:
    """The text cells whose 16-colour foreground is their 16-colour background. Behind a
    dialog the dashboard is dimmed on purpose: only the dialog itself is judged then."""
    screen = app.screen
    judged = [w.region for w in screen.children] if isinstance(screen, ModalScreen) else []
    found = []
    for y, strip in enumerate(screen._compositor.render_strips()):
        x = 0
        for segment in strip:
            text, style, _ = segment
            at, x = x, x + segment.cell_length
            if not text.strip() or style is None or segment.is_control:
                continue
            if set(text.strip()) <= _DECORATION:
                continue
            if judged and not any(r.contains(at, y) for r in judged):
                continue
            fg, bg = style.color, style.bgcolor
            if fg is None or bg is None:
                continue  # the terminal's own default: readable by definition
            # The palette index each becomes (the downgraded colours keep their names).
            low_fg = fg.downgrade(ColorSystem.STANDARD).number
            low_bg = bg.downgrade(ColorSystem.STANDARD).number
            if low_fg == low_bg:
                found.append(f"row {y}: {text.strip()!r} ({fg.name} on {bg.name}: {low_fg})")
    return found


def busy(desk: Desk) -> None:
    with_position(desk)
    with_orders(desk)
    desk.engine.strategies = [
        StubStrategy("momentum", "qty=0.01", realized=4.5, intents=12),
        StubStrategy("market_maker", "qty=0.01", "paused", why="paused by the trader"),
        StubStrategy("arb", "qty=0.01", "failed", why="on_start raised ValueError"),
    ]
    desk.engine.publish_strategies()


async def visit(pilot: Pilot[str], keys: tuple[str, ...]) -> None:
    for key in keys:
        await pilot.press(key)
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "keys",
    [(), ("a",), ("question_mark",), ("m",), ("b",), ("S",), ("J",), ("A",), ("q",), ("ctrl+k",)],
    ids=["dashboard", "alerts", "help", "mode", "ticket", "strategies", "journal", "keys",
         "quit", "killed"],
)  # fmt: skip
async def test_no_text_vanishes_in_sixteen_colours(
    desk: Desk, size: tuple[int, int], keys: tuple[str, ...]
) -> None:
    busy(desk)
    app = desk.app()
    async with app.run_test(size=size) as pilot, desk.engine.running():
        desk.engine.publish(AlertRaised(30, "feed BTCUSDT stale: resync"))
        desk.engine.publish(AlertRaised(40, "venue refused: margin is insufficient"))
        await pilot.pause(0.2)
        await visit(pilot, keys)
        assert invisible(app) == []
