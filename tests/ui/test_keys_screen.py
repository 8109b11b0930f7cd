"""The API keys screen: store, test and delete through the real keyring (keyrings.alt's file
backend in the test's temp dir) and a real local exchange; guidance when no backend can store.
The secret never reaches the screen."""

from __future__ import annotations

import html
import re
from pathlib import Path

import keyring
import keyring.core
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from hftui.app import HftuiApp
from hftui.keys import SERVICE
from hftui.screens.confirm import ConfirmScreen
from hftui.screens.keys import KeysScreen
from tests.support.processes import isolated_env, local_exchange
from tests.ui.conftest import Desk, eventually

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
FAIL = "keyring.backends.fail.Keyring"
KEY = "uiKEYaaaabbbbccccddddeeeeffffgggghhhhiiiijjjjkkkkllllmmmmnnnnwxyz"
SECRET = "uiSECRETppppqqqqrrrrssssttttuuuuvvvvwwwwxxxxyyyyzzzz0123456789AB"


def use_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backend: str) -> None:
    """`backend` for this process and the CLI children the screen starts."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("HFTUI_ALLOW_INSECURE_KEYRING", raising=False)
    monkeypatch.delenv("HFTUI_CONFIG", raising=False)
    # keyring picks its backend once per process: pick again now, and restore afterwards.
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)


@pytest.fixture
def plaintext(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, desk: Desk) -> Path:
    """The file backend, its file under the test's XDG_DATA_HOME (set by `desk`)."""
    use_backend(monkeypatch, tmp_path, PLAINTEXT)
    return tmp_path / "python_keyring" / "keyring_pass.cfg"


def stored_in(keyring_file: Path) -> bool:
    """The file backend has written its file."""
    return keyring_file.is_file()


def screen_text(app: HftuiApp) -> str:
    """Everything on screen as text, from the SVG export (spaces and entities undone)."""
    svg = app.export_screenshot()
    text = html.unescape(re.sub(r"<[^>]+>", "", svg))
    return text.replace("\xa0", " ")


def shown(screen: KeysScreen, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).content)


def assert_secret_unseen(app: HftuiApp) -> None:
    raw = app.export_screenshot()
    text = screen_text(app)
    for form in (SECRET, SECRET[:8], SECRET[-8:]):
        assert form not in raw
        assert form not in text


def set_region_url(desk: Desk, url: str) -> None:
    # As the engine publishes it: the URL of the exchange it trades on.
    desk.region.begin_header()
    desk.region.header["venue_url"] = url.encode()
    desk.region.end_header()


async def open_keys(pilot: Pilot[str], app: HftuiApp) -> KeysScreen:
    await pilot.press("A")
    await eventually(pilot, lambda: isinstance(app.screen, KeysScreen))
    screen = app.screen
    assert isinstance(screen, KeysScreen)
    await eventually(pilot, lambda: screen.status is not None)
    return screen


async def paste(pilot: Pilot[str], screen: KeysScreen, field: str, text: str) -> None:
    """Put `text` at the end of a focused field in one go (a paste; pressing 64 keys one by
    one costs seconds and proves nothing more than the first few)."""
    box = screen.query_one(field, Input)
    assert box.has_focus
    box.insert_text_at_cursor(text)
    await pilot.pause()


async def test_store_test_delete_against_a_real_exchange(
    desk: Desk, plaintext: Path, tmp_path: Path
) -> None:
    with local_exchange(
        isolated_env(tmp_path / "x"), tmp_path, accounts=[f"{KEY}:{SECRET}"]
    ) as url:
        set_region_url(desk, url)
        app = desk.app()
        async with app.run_test(size=(100, 30)) as pilot:
            await eventually(pilot, lambda: app.view.venue_url == url)
            screen = await open_keys(pilot, app)
            assert shown(screen, "keys-backend") == f"Keyring  {PLAINTEXT}"
            assert "demo account is used" in shown(screen, "keys-stored")
            assert "Venue    local  (the engine's)" in screen_text(app)

            await pilot.press("s", *KEY[:4])  # typed as the trader would ...
            await paste(pilot, screen, "#keys-key", KEY[4:])  # ... and the rest at once
            await pilot.press("enter", *SECRET[:4])
            await paste(pilot, screen, "#keys-secret", SECRET[4:])
            assert screen.query_one("#keys-secret", Input).password
            assert_secret_unseen(app)  # while typing: dots only
            await pilot.press("enter")
            await eventually(pilot, lambda: "stored key" in shown(screen, "keys-result"))
            assert shown(screen, "keys-result") == "stored key uiKE…wxyz for local"
            await eventually(pilot, lambda: "uiKE…wxyz" in shown(screen, "keys-stored"))
            assert keyring.get_password(SERVICE, "local:secret") == SECRET
            assert stored_in(plaintext)
            assert KEY not in screen_text(app)  # the key too shows only masked
            assert_secret_unseen(app)
            assert not screen.query_one("#keys-secret", Input).value  # nothing kept

            await pilot.press("t")
            await eventually(
                pilot, lambda: "keys work" in shown(screen, "keys-result"), timeout_s=30
            )
            assert shown(screen, "keys-result").startswith(f"keys work on local ({url})")
            assert "demo" not in shown(screen, "keys-result")

            await pilot.press("d")
            await eventually(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "uiKE…wxyz" in screen_text(app)
            await pilot.press("y")
            await eventually(pilot, lambda: "deleted" in shown(screen, "keys-result"))
            await eventually(pilot, lambda: "demo account" in shown(screen, "keys-stored"))
            assert keyring.get_password(SERVICE, "local:secret") is None

            # Without stored keys the demo account is tried, and this exchange does not know
            # it: the venue's own error comes back.
            await pilot.press("t")
            await eventually(pilot, lambda: "failed" in shown(screen, "keys-result"), timeout_s=30)
            assert "-2015" in shown(screen, "keys-result")
            assert_secret_unseen(app)

            await pilot.press("q")
            await eventually(pilot, lambda: not isinstance(app.screen, KeysScreen))


async def test_typing_can_be_abandoned_and_bad_input_is_refused(
    desk: Desk, plaintext: Path
) -> None:
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_keys(pilot, app)
        await pilot.press("s", *"half", "ctrl+k")  # the kill works while typing, too
        desk.engine.step()
        assert [type(c).__name__ for c in desk.engine.received] == ["Kill"]
        assert screen.query_one("#keys-key", Input).value == "half"
        await pilot.press("escape")
        assert shown(screen, "keys-result") == "nothing stored"
        assert isinstance(app.screen, KeysScreen)  # escape left the typing, not the screen
        assert screen.query_one("#keys-key", Input).disabled
        assert not stored_in(plaintext)

        await pilot.press("s")
        await paste(pilot, screen, "#keys-key", KEY)
        await pilot.press("enter", *"sec", "space", *"ret", "enter")
        await eventually(pilot, lambda: "not stored" in shown(screen, "keys-result"))
        assert "printable ASCII without spaces" in shown(screen, "keys-result")
        assert "sec ret" not in screen_text(app)

        # A real venue refuses the plaintext file, and says how to override or do better.
        await pilot.press("v", "v")
        await eventually(pilot, lambda: "plaintext" in shown(screen, "keys-problem"))
        assert "Venue    binance " in screen_text(app)
        await pilot.press("s")
        await paste(pilot, screen, "#keys-key", KEY)
        await pilot.press("enter")
        await paste(pilot, screen, "#keys-secret", SECRET)
        await pilot.press("enter")
        await eventually(pilot, lambda: "not stored" in shown(screen, "keys-result"))
        assert "HFTUI_ALLOW_INSECURE_KEYRING=1" in shown(screen, "keys-result")
        assert keyring.get_password(SERVICE, "binance:secret") is None
        assert_secret_unseen(app)

        await pilot.press("escape")
        await eventually(pilot, lambda: not isinstance(app.screen, KeysScreen))


async def test_no_keyring_backend_shows_guidance(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_backend(monkeypatch, tmp_path, FAIL)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_keys(pilot, app)
        await eventually(pilot, lambda: "No usable OS keyring" in shown(screen, "keys-problem"))
        guidance = shown(screen, "keys-problem")
        for advice in ("PYTHON_KEYRING_BACKEND", "keyrings.cryptfile", "dbus-run-session"):
            assert advice in guidance
        assert shown(screen, "keys-backend") == f"Keyring  {FAIL}"
        assert not screen.query_one("#keys-key-row").display
        assert "PYTHON_KEYRING_BACKEND" in screen_text(app)  # it fits 80x24
        await pilot.press("s")
        assert "no keyring backend can store" in shown(screen, "keys-result")
        assert "Traceback" not in screen_text(app)


async def test_opened_from_the_palette_and_listed_in_help(desk: Desk, plaintext: Path) -> None:
    app = desk.app()
    async with app.run_test(size=(100, 30)) as pilot:
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"API keys", "Journal"} <= set(commands)
        commands["API keys"].callback()
        await eventually(pilot, lambda: isinstance(app.screen, KeysScreen))
        await pilot.press("escape")
        await eventually(pilot, lambda: not isinstance(app.screen, KeysScreen))

        sections = dict(app.help_sections())
        keys_rows = dict(sections["API keys"])
        assert keys_rows["s"].startswith("Type a new API key")
        assert "esc, q" in keys_rows
        dashboard = dict(sections["Dashboard"])
        assert dashboard["A"].startswith("API keys")
        assert dashboard["J"].startswith("Journal")


async def test_a_backend_that_cannot_load_is_explained(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_backend(monkeypatch, tmp_path, "nosuchmodule.Keyring")  # a typo in the variable
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_keys(pilot, app)
        problem = shown(screen, "keys-problem")
        assert problem.startswith("the keyring cannot be used: ModuleNotFoundError")
        assert "PYTHON_KEYRING_BACKEND" in problem
        assert shown(screen, "keys-backend") == "Keyring  unavailable"
        await pilot.press("q")
        await eventually(pilot, lambda: not isinstance(app.screen, KeysScreen))
        assert app.is_running
