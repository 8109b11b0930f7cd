"""The API keys screen on generated key and secret text: empty, whitespace, any unicode,
control characters, far too long, and pastes of several lines, typed into its fields and
followed by its store, test and delete actions, with the real keyring (keyrings.alt's file
backend in the test's temp dir).

The contract: never an exception or a traceback; bad input is refused with a sentence that
says what is wrong with it (never quoting it); a good key stored before is still there,
whole, after bad input; good input is stored as given (less surrounding whitespace)."""

from __future__ import annotations

import asyncio
import html
import re
import string
from pathlib import Path
from typing import ClassVar

import keyring
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from textual import events
from textual.app import App
from textual.widgets import Input

from hftui.keys import MAX_LENGTH, SERVICE, mask_key, store_keys
from hftui.screens.confirm import ConfirmScreen
from hftui.screens.keys import KeysScreen
from tests.fuzz import examples
from tests.ui.conftest import eventually
from tests.ui.test_keys_screen import PLAINTEXT, shown, use_backend

FUZZ = settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

GOOD_KEY = "fuzzGOODkeyAAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKKKLLLLMMMMzz"
GOOD_SECRET = "fuzzGOODsecretNNNNOOOOPPPPQQQQRRRRSSSSTTTTUUUUVVVVWWWWXXXXYYYY99"
PRINTABLE = string.ascii_letters + string.digits + string.punctuation
# Each refusal names what is wrong: empty, too long, or not printable ASCII without spaces.
REFUSAL = re.compile(
    r"not stored: the (API key|secret) "
    r"(is empty|is \d+ characters long; at most \d+ are accepted"
    r"|must be printable ASCII without spaces)"
)

DONE = ("stored key", "not stored")

good_text = st.text(alphabet=PRINTABLE, min_size=1, max_size=MAX_LENGTH)
field_text = st.one_of(
    good_text,
    st.just(""),
    st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2028\u3000", max_size=8),  # whitespace only
    st.text(max_size=80),  # any unicode, control characters included
    st.text(alphabet=st.characters(max_codepoint=0x1F), min_size=1, max_size=8),
    st.text(alphabet=PRINTABLE, min_size=MAX_LENGTH + 1, max_size=MAX_LENGTH * 3),
    st.builds(lambda a, b: f"{a}\n{b}", good_text, good_text),  # key and secret pasted at once
    st.builds(lambda a, b, c: f"{a} {b}{c}", good_text, good_text, st.sampled_from(["", "\n"])),
    st.builds(lambda a: f"  {a}\t\n", good_text),  # a good value with whitespace around it
)
how = st.sampled_from(["paste", "insert"])  # a terminal's paste event, or text at the cursor


class Host(App[str]):
    """The keys screen, alone: it needs nothing of the workstation but an app to run in."""

    CSS: ClassVar[str] = ""

    def on_mount(self) -> None:
        self.push_screen(KeysScreen("local", ""))


def delivered(text: str, way: str) -> str:
    """What the field holds after `text` arrives `way` into an empty field (a paste keeps its
    first line, as terminals' multi-line pastes into a one-line field do)."""
    if way == "paste":
        return text.splitlines()[0] if text else ""
    return text


def acceptable(value: str) -> bool:
    return 0 < len(value) <= MAX_LENGTH and all(c in PRINTABLE for c in value)


async def enter(box: Input, text: str, way: str) -> None:
    if way == "paste":
        box.post_message(events.Paste(text))
    else:
        box.insert_text_at_cursor(text)


async def scenario(key: str, secret: str, ways: tuple[str, str], test: bool) -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await eventually(pilot, lambda: isinstance(app.screen, KeysScreen))
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        await eventually(pilot, lambda: screen.status is not None and screen.status.stored)

        await pilot.press("s")
        key_box = screen.query_one("#keys-key", Input)
        await enter(key_box, key, ways[0])
        await pilot.pause()
        assert key_box.value == delivered(key, ways[0])
        await pilot.press("enter")
        secret_box = screen.query_one("#keys-secret", Input)
        assert secret_box.has_focus
        await enter(secret_box, secret, ways[1])
        await pilot.pause()
        assert secret_box.value == delivered(secret, ways[1])
        await pilot.press("enter")
        await eventually(pilot, lambda: shown(screen, "keys-result").startswith(DONE), 10)

        result = shown(screen, "keys-result")
        new_key = delivered(key, ways[0]).strip()
        new_secret = delivered(secret, ways[1]).strip()
        if acceptable(new_key) and acceptable(new_secret):
            assert result == f"stored key {mask_key(new_key)} for local", result
            expected = (new_key, new_secret)
        else:
            assert REFUSAL.fullmatch(result), result
            expected = (GOOD_KEY, GOOD_SECRET)  # the bad input changed nothing
        stored = (
            keyring.get_password(SERVICE, "local:api_key"),
            keyring.get_password(SERVICE, "local:secret"),
        )
        assert stored == expected
        await eventually(pilot, lambda: mask_key(expected[0]) in shown(screen, "keys-stored"))
        assert not secret_box.value  # nothing of the entry kept
        assert not key_box.value

        if test:  # one signed call: no exchange here, so a failure, told in a sentence
            await pilot.press("t")
            tested = ("keys work", "failed: ")
            await eventually(pilot, lambda: shown(screen, "keys-result").startswith(tested), 30)
        await pilot.press("d")
        await eventually(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # declined: the keys stay
        await eventually(pilot, lambda: app.screen is screen)
        assert keyring.get_password(SERVICE, "local:secret") == expected[1]
        text = html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot()))
        assert "Traceback" not in text
        assert not (len(expected[1]) >= 8 and expected[1] in text)
        await pilot.press("escape")
        await eventually(pilot, lambda: not isinstance(app.screen, KeysScreen))


@pytest.fixture
def file_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    use_backend(monkeypatch, tmp_path, PLAINTEXT)


@FUZZ
@given(key=field_text, secret=field_text, ways=st.tuples(how, how), test=st.booleans())
@example(key="", secret="", ways=("paste", "paste"), test=False)
@example(key="  newKEY123  ", secret=f"{GOOD_SECRET[::-1]}\n", ways=("insert", "paste"), test=True)
@example(key=" \t ", secret=GOOD_SECRET, ways=("insert", "paste"), test=False)
@example(key="k" * (MAX_LENGTH + 1), secret=GOOD_SECRET, ways=("paste", "paste"), test=False)
@example(key=f"{GOOD_KEY}\n{GOOD_SECRET}", secret="", ways=("paste", "paste"), test=False)
@example(key=f"{GOOD_KEY}\n{GOOD_SECRET}", secret="x", ways=("insert", "insert"), test=True)
@example(key="ключ\x00\x1b[31m", secret="s\u200bcret", ways=("insert", "insert"), test=False)
def test_any_text_in_the_keys_screen(
    file_keyring: None, key: str, secret: str, ways: tuple[str, str], test: bool
) -> None:
    store_keys("local", GOOD_KEY, GOOD_SECRET)  # a good key stored before each try
    asyncio.run(scenario(key, secret, ways, test))
