"""SVG snapshots of the API keys and journal screens (files in snapshots/test_snapshots_screens/).

Frozen inputs only: the frozen region and clock, a key stored in a file keyring in the test's
temp dir, and a journal written with fixed timestamps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from hftui.keys import store_keys
from hftui.screens.journal import JournalScreen
from hftui.screens.keys import KeysScreen
from tests.ui.conftest import Desk, eventually
from tests.ui.test_journal_screen import write_journal
from tests.ui.test_keys_screen import FAIL, KEY, PLAINTEXT, SECRET, use_backend

SnapCompare = Callable[..., bool]


class KeysHost(App[str]):
    """The keys dialog over an empty screen: its picture does not change with the dashboard
    behind it (the pilot tests open it from the dashboard)."""

    def on_mount(self) -> None:
        self.push_screen(KeysScreen("local", "http://127.0.0.1:8080"))


async def _keys_read(pilot: Pilot[str]) -> None:
    await eventually(pilot, lambda: isinstance(pilot.app.screen, KeysScreen))
    screen = pilot.app.screen
    assert isinstance(screen, KeysScreen)
    await eventually(pilot, lambda: screen.status is not None)
    await pilot.pause()


def _journal_open(
    path: Path, *keys: str, until: str = ""
) -> Callable[[Pilot[str]], Awaitable[None]]:
    # Open the journal, press `keys`, and wait for the status line to say `until`.
    async def run_before(pilot: Pilot[str]) -> None:
        screen = JournalScreen(path)
        await pilot.app.push_screen(screen)
        await eventually(pilot, lambda: screen.page is not None)
        await pilot.press(*keys)
        status = screen.query_one("#journal-status", Static)
        await eventually(pilot, lambda: until in str(status.content))
        await pilot.pause()

    return run_before


@pytest.fixture
def stored_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the file keyring's home
    use_backend(monkeypatch, tmp_path, PLAINTEXT)
    store_keys("local", KEY, SECRET)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal" / "default.sqlite3"
    path.parent.mkdir()
    write_journal(path)
    return path


class TestKeys:
    def test_keys_stored_80x24(self, snap_compare: SnapCompare, stored_key: None) -> None:
        assert snap_compare(KeysHost(), run_before=_keys_read, terminal_size=(80, 24))

    def test_keys_stored_160x48(self, snap_compare: SnapCompare, stored_key: None) -> None:
        assert snap_compare(KeysHost(), run_before=_keys_read, terminal_size=(160, 48))

    def test_keys_no_backend_80x24(
        self,
        snap_compare: SnapCompare,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
        use_backend(monkeypatch, tmp_path, FAIL)
        assert snap_compare(KeysHost(), run_before=_keys_read, terminal_size=(80, 24))


class TestJournal:
    def test_journal_orders_80x24(
        self, snap_compare: SnapCompare, desk: Desk, journal: Path
    ) -> None:
        assert snap_compare(desk.app(), run_before=_journal_open(journal), terminal_size=(80, 24))

    def test_journal_orders_160x48(
        self, snap_compare: SnapCompare, desk: Desk, journal: Path
    ) -> None:
        run_before = _journal_open(journal)
        assert snap_compare(desk.app(), run_before=run_before, terminal_size=(160, 48))

    def test_journal_fills_filtered_160x48(
        self, snap_compare: SnapCompare, desk: Desk, journal: Path
    ) -> None:
        keys = ("t", "slash", *"side:sell")
        run_before = _journal_open(journal, *keys, until="1 fills matching 'side:sell'")
        assert snap_compare(desk.app(), run_before=run_before, terminal_size=(160, 48))
