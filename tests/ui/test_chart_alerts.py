"""Pilot tests of the price chart, the alerts panel and its key (a), and the order ticket's
preview following every keystroke; over a real region, real rings and the stub engine."""

from __future__ import annotations

import dataclasses
import logging
import math

import pytest
from textual.widget import Widget
from textual.widgets import Input, Static

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink
from hftui.protocol import Mode
from hftui.screens.help import HelpScreen
from hftui.screens.order_entry import OrderEntryScreen
from hftui.widgets.alerts import AlertRow, wrap_alert
from hftui.widgets.chart import PriceHistory, mid_text, plot_braille, plot_sparkline
from tests.support.region import FROZEN_NS, fill_header, frozen_region
from tests.ui.conftest import Desk, eventually

BTC_TWO_MID = 6_400_010 + 6_400_020  # the frozen region's BTCUSDT bid + ask, in price units
STEP_NS = 250_000_000


def fill_history(app: HftuiApp, samples: int = 240) -> None:
    """A fixed BTCUSDT mid history ending at the frozen clock: two waves, on the tick."""
    history = app.dashboard.chart.history
    for k in range(samples):
        wave = 30 * math.sin(k / 19) + 12 * math.sin(k / 5)
        history.add(
            "BTCUSDT", 2, FROZEN_NS - (samples - 1 - k) * STEP_NS, BTC_TWO_MID + 20 * round(wave)
        )


def move_book(writer: SnapshotWriter, index: int, best_bid: int, tick: int, recv_ns: int) -> None:
    """Shift one symbol's whole book so its best bid is `best_bid`, received at `recv_ns`."""
    writer.begin_symbol(index)
    s = writer.symbol(index)
    for k in range(len(s["bid_px"])):
        s["bid_px"][k] = best_bid - k * tick
        s["ask_px"][k] = best_bid + (k + 1) * tick
    s["best_bid"], s["best_ask"] = best_bid, best_bid + tick
    s["recv_ns"] = recv_ns
    writer.end_symbol(index)


def chart_text(app: HftuiApp) -> list[str]:
    chart = app.dashboard.chart
    return [chart.render_line(y).text for y in range(chart.size.height)]


def alerts_text(app: HftuiApp) -> list[str]:
    panel = app.dashboard.alerts
    return [panel.render_line(y).text.rstrip() for y in range(panel.size.height)]


def alert_entries(app: HftuiApp) -> list[str]:
    """The panel's lines at its width, each alert's wrapped lines joined again."""
    entries: list[str] = []
    for line in app.dashboard.alerts.lines:
        if line.startswith(" " * 15) and entries:
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    return entries


def focused(app: HftuiApp) -> Widget | None:
    return app.focused  # read afresh each time: a key moves the focus


def braille(line: str) -> str:
    return "".join(ch for ch in line if "\u2800" <= ch <= "\u28ff")


# ---- the chart --------------------------------------------------------------------------


def test_plot_draws_low_to_high_over_time() -> None:
    rising = [(k * STEP_NS, 100 + k) for k in range(40)]
    lines = plot_braille(rising, 10, 3)
    assert len(lines) == 3
    assert all(len(line) == 10 for line in lines)
    # Rising: the first cell's dots are on the bottom row, the last cell's on the top one.
    assert lines[2][0] != "\u2800"
    assert lines[0][0] == "\u2800"
    assert lines[0][-1] != "\u2800"
    assert lines[2][-1] == "\u2800"
    assert plot_sparkline(rising, 8) == "▁▂▃▄▅▆▇█"
    flat = [(k * STEP_NS, 7) for k in range(5)]
    assert set(plot_sparkline(flat, 4)) == {"▁"}
    assert mid_text(BTC_TWO_MID, 2) == "64000.15"
    assert mid_text(2 * 6_400_010, 2) == "64000.10"


def test_history_samples_at_most_every_interval_and_skips_stale() -> None:
    history = PriceHistory(capacity=3, every_s=0.25)
    with frozen_region() as writer:
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
        btc = link.poll().symbols[0]
    assert history.record(btc, FROZEN_NS)
    assert not history.record(btc, FROZEN_NS + STEP_NS - 1)  # too soon
    assert history.record(btc, FROZEN_NS + STEP_NS)
    stale = dataclasses.replace(btc, age_s=30.0)
    assert not history.record(stale, FROZEN_NS + 9 * STEP_NS)
    for k in (2, 3):
        history.record(btc, FROZEN_NS + k * STEP_NS)
    assert [t for t, _ in history.series("BTCUSDT")] == [
        FROZEN_NS + k * STEP_NS for k in (1, 2, 3)
    ]  # capacity 3: the oldest went


async def test_chart_follows_the_book_and_greys_out_when_stale(desk: Desk) -> None:
    clock = [FROZEN_NS]
    link = EngineLink(SnapshotReader(desk.region.name), 4242, clock_ns=lambda: clock[0])
    app = HftuiApp(link, spawned=True, refresh_hz=20, control=desk.control)
    async with app.run_test(size=(160, 48)) as pilot:
        chart = app.dashboard.chart
        await eventually(pilot, lambda: len(chart.samples) == 1)
        assert "collecting prices…" in " ".join(chart_text(app))  # one sample: no line yet
        # The book climbs 5 ticks then falls 8, one step every half second.
        bid = 6_400_010
        for step in [10] * 5 + [-10] * 8:
            bid += step
            clock[0] += 2 * STEP_NS
            fill_header(desk.region)
            desk.region.header["heartbeat_ns"] = clock[0]
            move_book(desk.region, 0, bid, 10, clock[0])
            app.poll_engine()
        await pilot.pause()
        assert len(chart.samples) == 14
        assert chart.border_title == "BTCUSDT mid 63999.85"
        text = chart_text(app)
        assert text[0].startswith("64000.65 ")  # the high: 5 ticks up, mid
        assert text[-2].startswith("63999.85 ")  # the low, on the last plot row
        assert text[-1].strip() == "6s ago" + " " * (len(text[-1].strip()) - 9) + "now"
        assert all(braille(line) for line in text[:-1])  # every plot row has dots
        assert not chart.has_class("-stale")
        down = chart.get_component_rich_style("chart--down")
        assert chart.render_line(0)._segments[1].style == down  # fell over the window
        # The engine goes quiet: greyed out, and nothing is sampled while it is.
        clock[0] += 10 * 10**9
        app.poll_engine()
        await pilot.pause()
        assert chart.has_class("-stale")
        assert chart.stale
        assert len(chart.samples) == 14
        grey = chart.get_component_rich_style("chart--stale")
        assert chart.render_line(0)._segments[1].style == grey
        # Another symbol has its own history.
        await pilot.press("2")
        assert chart.symbol == "ETHUSDT"
        # ETHUSDT's book never moved: sampled flat until it was 2 s old, then no more.
        assert [v for _, v in chart.samples] == [320_001 + 320_002] * 4


@pytest.mark.parametrize(
    ("size", "shown", "min_height"),
    [((80, 24), False, 0), ((100, 30), False, 0), ((160, 48), True, 8), ((200, 60), True, 15)],
)
async def test_chart_and_alerts_column_by_terminal_size(
    desk: Desk, size: tuple[int, int], shown: bool, min_height: int
) -> None:
    app = desk.app()
    fill_history(app)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        side = dashboard.query_one("#side")
        assert side.display is shown
        assert dashboard.tape.display  # the trades are always there until a is pressed
        if shown:
            chart = dashboard.chart
            assert chart.size.height >= min_height
            assert dashboard.alerts.size.height >= min_height
            assert dashboard.ladder.size.width >= 40
            text = chart_text(app)
            assert text[-1].strip().startswith("59s ago")
            assert all(braille(line) for line in text[:-1])


async def test_a_sparkline_beside_a_narrow_book(desk: Desk) -> None:
    # 80x24 with the alerts open (a): the chart keeps two rows, a sparkline between its low
    # and high over the time axis.
    app = desk.app()
    fill_history(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        chart = app.dashboard.chart
        assert chart.size.height == 2
        first, axis = chart_text(app)
        low, spark, high = first.split()
        assert set(spark) <= set("▁▂▃▄▅▆▇█")
        assert len(set(spark)) > 3
        assert (low, high) == ("63995.95", "64004.05")
        assert axis.split() == ["59s", "ago", "now"]


# ---- the alerts panel ---------------------------------------------------------------------


def test_alert_wraps_under_its_own_start() -> None:
    row = AlertRow("11:06:40", "warning", "config reloaded; in force: risk.default.max_order")
    lines = wrap_alert(row, 40)
    assert lines[0].startswith("11:06:40 WARN  config reloaded;")
    assert all(len(line) <= 40 for line in lines)
    assert all(line.startswith(" " * 15) for line in lines[1:])
    assert " ".join(" ".join(line[15:].split()) for line in lines) == row.text
    assert wrap_alert(AlertRow("t", "error", "x", count=3), 40)[0].endswith("x (x3)")


async def test_alerts_newest_first_with_severity_and_repeats_counted(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        panel = app.dashboard.alerts
        assert "no alerts yet" in alerts_text(app)[1]
        desk.engine.alert(logging.INFO, "strategy maker: would send BUY 0.010")
        desk.engine.alert(logging.WARNING, "stream reconnecting")
        desk.engine.alert(logging.ERROR, "reconcile mismatch on BTCUSDT")
        desk.engine.alert(logging.ERROR, "reconcile mismatch on BTCUSDT")
        await eventually(pilot, lambda: panel.total == 4)
        await pilot.pause()
        assert alert_entries(app) == [
            "11:06:40 ERROR reconcile mismatch on BTCUSDT (x2)",
            "11:06:40 WARN  stream reconnecting",
            "11:06:40 INFO  strategy maker: would send BUY 0.010",
        ]
        text = alerts_text(app)
        assert text[0].startswith("11:06:40 ERROR reconcile")  # drawn as listed
        assert len(text[0]) <= panel.size.width
        assert panel.border_title == "alerts 3"
        error = panel.get_component_rich_style("alerts--error")
        warning = panel.get_component_rich_style("alerts--warning")
        assert panel.render_line(0)._segments[1].style == error
        warn_line = next(k for k, line in enumerate(text) if "WARN" in line)
        assert panel.render_line(warn_line)._segments[1].style == warning
        assert error != warning


async def test_a_burst_is_kept_whole_though_only_a_few_toast(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        for k in range(12):
            desk.engine.alert(logging.WARNING, f"venue slow: {k}")
        await eventually(pilot, lambda: app.dashboard.alerts.total == 12)
        rows = app.dashboard.alerts.rows
        assert [r.text for r in rows] == [f"venue slow: {k}" for k in reversed(range(12))]


async def test_a_shows_and_scrolls_the_alerts_at_80x24(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        side = dashboard.query_one("#side")
        for k in range(30):
            desk.engine.alert(logging.WARNING, f"alert number {k:02d}")
        await eventually(pilot, lambda: dashboard.alerts.total == 30)
        assert not side.display
        await pilot.press("a")
        await pilot.pause()
        panel = dashboard.alerts
        assert focused(app) is panel
        assert side.display
        assert not dashboard.tape.display
        assert panel.size.height >= 3
        assert panel.border_subtitle == "esc back"
        assert alerts_text(app)[0].endswith("alert number 29")
        await pilot.press("down", "j")
        assert panel.top == 2
        assert alerts_text(app)[0].endswith("alert number 27")
        await pilot.press("up")
        assert panel.top == 1
        await pilot.press("end")
        assert alerts_text(app)[panel.size.height - 1].endswith("alert number 00")
        await pilot.press("home", "pagedown")
        assert panel.top == panel.size.height - 1
        await pilot.press("pageup")
        assert panel.top == 0
        # Escape hands the focus back to the ladder and the trades come back.
        await pilot.press("escape")
        await pilot.pause()
        assert focused(app) is dashboard.ladder
        assert not side.display
        assert dashboard.tape.display
        # a toggles: open, then closed again; a dialog over it leaves it open.
        await pilot.press("a")
        await pilot.pause()
        assert focused(app) is panel
        assert side.display
        await pilot.press("question_mark")
        await pilot.press("escape")
        await pilot.pause()
        assert focused(app) is panel
        assert side.display
        await pilot.press("a")
        await pilot.pause()
        assert focused(app) is dashboard.ladder
        assert not side.display
        # The ladder's keys work again at once.
        await pilot.press("up")
        assert dashboard.ladder.cursor_price == "64000.20"


async def test_a_focuses_the_alerts_beside_the_book_at_160x48(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        await pilot.press("a")
        await pilot.pause()
        assert focused(app) is dashboard.alerts
        assert dashboard.tape.display  # wide: nothing makes way
        await pilot.press("escape")
        assert focused(app) is dashboard.ladder
        assert dashboard.query_one("#side").display


async def test_alerts_in_help_and_palette(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        sections = dict(screen.sections)
        assert dict(sections["Dashboard"])["a"].startswith("Alerts: focus the alerts panel")
        assert "Alerts: back to the ladder" in dict(sections["Alerts (a)"]).values()
        await pilot.press("escape")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Alerts" in commands
        commands["Alerts"].callback()
        await pilot.pause()
        assert focused(app) is app.dashboard.alerts
        # From another screen the palette's Alerts says where they are, and changes nothing.
        await pilot.press("escape", "question_mark")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Alerts"].callback()
        assert isinstance(app.screen, HelpScreen)
        assert app.notice is not None
        assert app.notice.title == "alerts"


# ---- the order ticket's preview ----------------------------------------------------------


async def test_ticket_preview_follows_every_keystroke(desk: Desk) -> None:
    desk.engine.mode = Mode.PAPER
    desk.engine.publish_header()
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, OrderEntryScreen)

        def preview() -> str:
            return str(screen.query_one("#ticket-preview", Static).render())

        def problem() -> str:
            return str(screen.query_one("#ticket-problem", Static).render())

        assert preview() == ""
        seen = []
        for key in "0.25":
            await pilot.press(key)
            seen.append((problem(), preview()))
        position = "position 0.000 → "
        assert seen == [
            ("qty: must be more than 0", ""),
            ("qty: must be more than 0", ""),
            ("ready to send", f"notional 12800.02 USDT · {position}+0.200"),
            ("ready to send", f"notional 16000.02 USDT · {position}+0.250"),  # 16000.025
        ]
        # The price, typed over: the notional and the tick check follow each keystroke.
        screen.query_one("#ticket-price", Input).focus()
        await pilot.press("end", "5")  # 64000.105
        assert problem() == "price: off the tick 0.10; try 64000.10 or 64000.20"
        assert preview() == f"notional 16000.03 USDT · {position}+0.250"
        await pilot.press(*["backspace"] * 5)  # 6400
        assert (problem(), preview()) == (
            "ready to send",
            f"notional 1600.00 USDT · {position}+0.250",
        )
        await pilot.press("1")  # 64001: crosses the best ask
        assert preview() == (
            f"notional 16000.25 USDT · {position}+0.250\n"
            "crosses the best ask 64000.20: takes liquidity"
        )
        await pilot.press("escape")
