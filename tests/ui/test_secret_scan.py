"""The API secret never reaches the screen: with a key and secret stored in the real keyring
(keyrings.alt's file backend in the test's temp dir) through the keys screen, and tested
against a real local exchange, every screen and dialog of the TUI is visited and its SVG
export and its text are searched for the secret and for every 8-character piece of it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import keyring
import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from hftui.app import HftuiApp
from hftui.keys import SERVICE, mask_key
from hftui.screens.backtest import BacktestScreen
from hftui.screens.confirm import ConfirmScreen
from hftui.screens.help import HelpScreen
from hftui.screens.journal import JournalScreen
from hftui.screens.keys import KeysScreen
from hftui.screens.mode import ModeScreen
from hftui.screens.order_entry import OrderEntryScreen
from hftui.screens.quit import QuitScreen
from hftui.screens.strategies import StrategiesScreen
from tests.support.processes import isolated_env, local_exchange
from tests.ui.conftest import Desk, eventually
from tests.ui.test_journal_screen import journal_of, write_journal
from tests.ui.test_keys_screen import (
    PLAINTEXT,
    open_keys,
    paste,
    screen_text,
    set_region_url,
    shown,
    use_backend,
)

# Distinct from every other test's credentials, and from anything the screens print.
KEY = "scanKEYq7Vd2LmN9xR4tB8wZ1cF6hJ3kP5sG0yA2eU7iO9uTrEwQaSdFgHjKlZx"
SECRET = "scanSECRET4Gh8Jk2Lm6Np0Qr3St7Uv1Wx5Yz9Ab2Cd6Ef0Gh4Ij8Kl2Mn6Op0Q"
PIECES = frozenset(SECRET[i : i + 8] for i in range(len(SECRET) - 7))


def leaks(app: HftuiApp) -> list[str]:
    """Every 8-character piece of the secret found in the screenshot or the screen's text."""
    raw = app.export_screenshot()
    text = screen_text(app)
    return sorted(p for p in PIECES if p in raw or p in text)


def showing(app: HftuiApp, text: str) -> bool:
    return text in screen_text(app)


def status_of(screen: KeysScreen, venue: str) -> bool:
    """The screen has read the keyring for `venue`."""
    return screen.status is not None and screen.status.venue == venue


class Scan:
    """Counts the screens searched, so the test can tell it looked at all it meant to."""

    def __init__(self, app: HftuiApp) -> None:
        self.app = app
        self.seen: list[str] = []

    def __call__(self, where: str) -> None:
        found = leaks(self.app)
        assert not found, f"the secret shows on {where}: {found[:3]}"
        self.seen.append(where)


async def visit(
    pilot: Pilot[str], app: HftuiApp, scan: Scan, keys: tuple[str, ...], kind: type[Screen[Any]]
) -> None:
    """Press `keys`, wait for a `kind` screen, search it, and leave it with escape."""
    await pilot.press(*keys)
    try:
        await eventually(pilot, lambda: isinstance(app.screen, kind))
    except AssertionError:
        raise AssertionError(f"{keys} did not open {kind.__name__}: {app.screen!r}") from None
    await pilot.pause(0.1)  # a screen's first refresh
    scan(kind.__name__)
    await pilot.press("escape")
    await eventually(pilot, lambda: not isinstance(app.screen, kind))


async def keys_flow(pilot: Pilot[str], app: HftuiApp, scan: Scan, url: str) -> None:
    """Store, show, test, confirm-delete (declined) and step through the venues."""
    screen = await open_keys(pilot, app)
    scan("keys screen, nothing stored")
    await pilot.press("s")
    await paste(pilot, screen, "#keys-key", KEY)
    await pilot.press("enter")
    await paste(pilot, screen, "#keys-secret", SECRET)
    scan("keys screen, secret typed")
    await pilot.press("enter")
    await eventually(pilot, lambda: mask_key(KEY) in shown(screen, "keys-stored"))
    assert keyring.get_password(SERVICE, "local:secret") == SECRET  # really stored
    scan("keys screen, stored")
    await pilot.press("t")
    await eventually(pilot, lambda: "keys work" in shown(screen, "keys-result"), timeout_s=30)
    assert url in shown(screen, "keys-result")
    scan("keys screen, tested")
    await pilot.press("d")
    await eventually(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    scan("delete confirmation")
    await pilot.press("n")
    await eventually(pilot, lambda: app.screen is screen)
    for venue in ("binance-testnet", "binance", "local"):
        await pilot.press("v")
        await eventually(pilot, functools.partial(showing, app, f"Venue    {venue}"))
        await eventually(pilot, functools.partial(status_of, screen, venue))
        scan(f"keys screen, venue {venue}")
    await pilot.press("escape")
    await eventually(pilot, lambda: not isinstance(app.screen, KeysScreen))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_no_screen_ever_shows_the_secret(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: tuple[int, int]
) -> None:
    use_backend(monkeypatch, tmp_path, PLAINTEXT)
    with local_exchange(
        isolated_env(tmp_path / "x"), tmp_path, accounts=[f"{KEY}:{SECRET}"]
    ) as url:
        set_region_url(desk, url)
        app = desk.app()
        write_journal(journal_of(desk, app))
        scan = Scan(app)
        async with app.run_test(size=size) as pilot:
            await eventually(pilot, lambda: app.view.venue_url == url)
            scan("dashboard")
            await keys_flow(pilot, app, scan, url)
            scan("dashboard, keys stored")
            screens: list[tuple[tuple[str, ...], type[Screen[Any]]]] = [
                (("question_mark",), HelpScreen),
                (("m",), ModeScreen),
                (("J",), JournalScreen),
                (("J", "t"), JournalScreen),  # the fills
                (("S",), StrategiesScreen),
                (("B",), BacktestScreen),
                (("b",), OrderEntryScreen),
                (("s",), OrderEntryScreen),
                (("C",), ConfirmScreen),
                (("K",), ConfirmScreen),
                (("F",), ConfirmScreen),
                (("q",), QuitScreen),
            ]
            for keys, kind in screens:
                await visit(pilot, app, scan, keys, kind)
            await pilot.press("ctrl+p")
            await pilot.pause(0.3)
            scan("command palette")
            await pilot.press(*"keys")
            await pilot.pause(0.3)
            scan("command palette, searched")
            await pilot.press("escape")
            await pilot.press("o")  # the open orders panel takes the focus
            await pilot.pause(0.1)
            scan("dashboard, open orders")
            # The keys screen again, opened fresh on a stored key.
            await open_keys(pilot, app)
            scan("keys screen, reopened")
        assert len(scan.seen) >= 25, scan.seen
