"""API keys: store, test and delete a venue's key and secret in the OS keyring.

The keyring does the keeping (`hftui.keys`); this screen never holds the secret longer than
the store takes, types it into a password field, and shows the key only masked. Every keyring
call runs in a thread (a Secret Service answers over D-Bus, and may take its time), and the
signed test call runs `hftui keys test` as a child process: the TUI never imports the
engine's venue client, and the child says exactly what the CLI says.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar, Final

import orjson
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from hftui.keys import (
    GUIDANCE,
    KeyringUnusableError,
    KeyStatus,
    delete_keys,
    key_status,
    mask_key,
    no_backend,
    store_keys,
)
from hftui.screens.confirm import ConfirmScreen

__all__ = ["VENUES", "KeysScreen", "run_key_test"]

VENUES: Final = ("local", "binance-testnet", "binance")
_TEST_TIMEOUT_S: Final = 30.0  # the CLI's own venue timeouts are shorter


def run_key_test(venue: str, url: str = "") -> tuple[bool, str]:
    """`hftui keys test --venue VENUE --json` (with `--url` for a local exchange): one signed
    call with the stored keys. Blocks for the round trip; call it from a thread.

    Returns:
        (True, what the venue said) when the account answered; (False, why not) otherwise.
    """
    command = [sys.executable, "-m", "hftui", "keys", "test", "--venue", venue, "--json"]
    if url and venue == "local":
        command += ["--url", url]
    try:
        done = subprocess.run(  # noqa: S603 - our own program, no shell, no secret in argv
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_TEST_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {_TEST_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return False, f"cannot run the test: {exc.strerror or exc}"
    try:
        doc = orjson.loads(done.stdout)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and "text" in doc:
        return bool(doc.get("ok")) and done.returncode == 0, str(doc["text"])
    # Refusals before any call (no keys, no exchange) are one "hftui: ..." line on stderr.
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return False, lines[-1].removeprefix("hftui: ") if lines else f"exit {done.returncode}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a keyring or venue call came to, for the result line."""

    ok: bool
    text: str


class KeysScreen(ModalScreen[None]):
    """Per venue: the keyring backend, what is stored (masked), and store / test / delete.

    Two levels of keys: at the top `s` starts typing a new key and secret, `t`, `d` and `v`
    act at once; while typing, enter moves on (and at the secret, stores) and escape goes
    back without storing.
    """

    CSS_PATH = "keys.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s",
            "set_keys",
            "Set",
            id="keys.set",
            tooltip="Type a new API key, enter, the secret, enter: stored in the keyring",
        ),
        Binding(
            "t",
            "test_keys",
            "Test",
            id="keys.test",
            tooltip="Test the stored keys: one signed call to the venue",
        ),
        Binding(
            "d",
            "delete_keys",
            "Delete",
            id="keys.delete",
            tooltip="Delete the venue's key and secret from the keyring (asks first)",
        ),
        Binding(
            "v",
            "next_venue",
            "Venue",
            id="keys.venue",
            tooltip="Next venue: local, binance-testnet, binance",
        ),
        Binding(
            "escape,q",
            "close",
            "Close",
            id="keys.close",
            tooltip="Close (escape while typing: back, nothing stored)",
        ),
    ]

    def __init__(self, venue: str = "local", engine_url: str = "") -> None:
        """Open on one venue.

        Args:
            venue: the venue shown first (the engine's); `v` goes through the others.
            engine_url: the running engine's REST URL; a test on venue local calls it.
        """
        super().__init__()
        self.venue = venue if venue in VENUES else "local"
        self.engine_venue = venue
        self.engine_url = engine_url
        self.status: KeyStatus | None = None
        self.typing = False

    def compose(self) -> ComposeResult:
        # The fields take text of any length: a field capped at the keys' limit would drop an
        # over-long paste whole and the store would call it empty; the store says how long.
        with Vertical(id="keys-box") as box:
            box.border_title = "API keys"
            yield Static("", id="keys-venue", markup=False)
            yield Static("keyring: looking…", id="keys-backend", markup=False)
            yield Static("", id="keys-stored", markup=False)
            yield Static("", id="keys-problem", markup=False)
            with Horizontal(classes="keys-field", id="keys-key-row"):
                yield Label("API key", classes="keys-label")
                yield Input(
                    placeholder="press s, then paste the API key",
                    id="keys-key",
                    disabled=True,
                )
            with Horizontal(classes="keys-field", id="keys-secret-row"):
                yield Label("Secret", classes="keys-label")
                yield Input(
                    placeholder="then the secret (never shown)",
                    id="keys-secret",
                    password=True,
                    disabled=True,
                )
            yield Static("", id="keys-result", markup=False)
            yield Static(
                "s set · t test · d delete · v venue · escape closes",
                id="keys-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self._show_venue()
        self.refresh_status()

    # ---- what is shown --------------------------------------------------------------------

    def _show_venue(self) -> None:
        others = ", ".join(v for v in VENUES if v != self.venue)
        engine = "  (the engine's)" if self.venue == self.engine_venue else ""
        self.query_one("#keys-venue", Static).update(f"Venue    {self.venue}{engine}   v: {others}")

    @work(thread=True, exclusive=True, group="keys-status")
    def refresh_status(self) -> None:
        """Read what the keyring holds for the venue shown (never the secret itself)."""
        venue = self.venue
        try:
            status = key_status(venue)
            missing = no_backend()
        except Exception as exc:  # a screen, not a traceback, whatever the backend does
            # Loading the configured backend itself failed (a PYTHON_KEYRING_BACKEND typo, a
            # backend whose own imports fail).
            text = f"the keyring cannot be used: {type(exc).__name__}: {exc}"
            status = KeyStatus(venue, "unavailable", False, "", venue == "local", text)
            missing = True
        self.app.call_from_thread(self._show_status, venue, status, missing)

    def _show_status(self, venue: str, status: KeyStatus, missing: bool) -> None:
        if venue != self.venue or not self.is_attached:
            return  # the trader moved on to another venue meanwhile
        self.status = status
        self.query_one("#keys-backend", Static).update(f"Keyring  {status.backend}")
        if status.stored:
            stored = f"Stored   key {status.api_key_mask}"
        elif venue == "local":
            stored = "Stored   none: the local exchange's demo account is used"
        else:
            stored = f"Stored   none: live on {venue} needs keys (s)"
        self.query_one("#keys-stored", Static).update(stored)
        problem = self.query_one("#keys-problem", Static)
        if missing:
            problem.update(
                f"{status.problem}. {GUIDANCE}" if status.backend == "unavailable" else GUIDANCE
            )
        else:
            problem.update(status.problem)
        problem.set_class(missing, "-guidance")
        problem.display = bool(missing or status.problem)
        # Nothing can be stored without a backend: the fields would only invite typing.
        for row in ("#keys-key-row", "#keys-secret-row"):
            self.query_one(row).display = not missing

    def _result(self, outcome: _Outcome | str) -> None:
        line = self.query_one("#keys-result", Static)
        if isinstance(outcome, str):
            line.update(outcome)
            line.set_class(False, "-ok")
            line.set_class(False, "-error")
            return
        line.update(outcome.text)
        line.set_class(outcome.ok, "-ok")
        line.set_class(not outcome.ok, "-error")

    # ---- actions --------------------------------------------------------------------------

    def action_next_venue(self) -> None:
        self.venue = VENUES[(VENUES.index(self.venue) + 1) % len(VENUES)]
        self._show_venue()
        self._result("")
        self.refresh_status()

    def action_set_keys(self) -> None:
        if not self.query_one("#keys-key-row").display:
            self.app.bell()
            self._result(_Outcome(False, "no keyring backend can store keys here (see above)"))
            return
        self.typing = True
        key, secret = self.query_one("#keys-key", Input), self.query_one("#keys-secret", Input)
        key.disabled = secret.disabled = False
        key.placeholder = "paste the API key, then enter"
        secret.placeholder = "then the secret and enter (never shown)"
        key.focus()
        self._result(f"typing keys for {self.venue}: escape goes back, nothing stored")

    def _stop_typing(self) -> None:
        self.typing = False
        key, secret = self.query_one("#keys-key", Input), self.query_one("#keys-secret", Input)
        secret.clear()  # first: the secret must not outlive the entry
        key.clear()
        key.disabled = secret.disabled = True
        key.placeholder = "press s, then paste the API key"
        secret.placeholder = "then the secret (never shown)"
        self.set_focus(None)

    @on(Input.Submitted, "#keys-key")
    def key_entered(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#keys-secret", Input).focus()

    @on(Input.Submitted, "#keys-secret")
    def secret_entered(self, event: Input.Submitted) -> None:
        event.stop()
        api_key = self.query_one("#keys-key", Input).value.strip()
        secret = event.value.strip()
        self._stop_typing()
        self._result(f"storing keys for {self.venue}…")
        self.store_in_keyring(self.venue, api_key, secret)

    @work(thread=True, exclusive=True, group="keys-store")
    def store_in_keyring(self, venue: str, api_key: str, secret: str) -> None:
        try:
            store_keys(venue, api_key, secret)
        except (KeyringUnusableError, ValueError) as exc:
            # Both messages describe the values, never quote them.
            outcome = _Outcome(False, f"not stored: {exc}")
        except Exception as exc:
            # Any backend's failure, named but not quoted: its text might hold what it was given.
            outcome = _Outcome(False, f"not stored: the keyring refused ({type(exc).__name__})")
        else:
            outcome = _Outcome(True, f"stored key {mask_key(api_key)} for {venue}")
        self.app.call_from_thread(self._done, outcome)

    def _done(self, outcome: _Outcome) -> None:
        if self.is_attached:
            self._result(outcome)
            self.refresh_status()

    def action_test_keys(self) -> None:
        url = self.engine_url if self.venue == self.engine_venue == "local" else ""
        self._result(f"testing the {self.venue} keys: one signed call…")
        self.test_on_venue(self.venue, url)

    @work(thread=True, exclusive=True, group="keys-test")
    def test_on_venue(self, venue: str, url: str) -> None:
        ok, text = run_key_test(venue, url)
        self.app.call_from_thread(self._done, _Outcome(ok, text if ok else f"failed: {text}"))

    def action_delete_keys(self) -> None:
        venue = self.venue

        def chosen(go: bool | None) -> None:
            if go:
                self._result(f"deleting the {venue} keys…")
                self.delete_from_keyring(venue)

        stored = self.status is not None and self.status.stored
        note = f"key {self.status.api_key_mask}" if stored and self.status else "none stored"
        screen = ConfirmScreen(
            "Delete API keys",
            f"Delete the {venue} API key and secret from the keyring?",
            note=f"Stored now: {note}.",
        )
        self.app.push_screen(screen, chosen)

    @work(thread=True, exclusive=True, group="keys-store")
    def delete_from_keyring(self, venue: str) -> None:
        try:
            removed = delete_keys(venue)
        except KeyringUnusableError as exc:
            outcome = _Outcome(False, f"not deleted: {exc}")
        except Exception as exc:  # a screen, not a traceback
            outcome = _Outcome(False, f"not deleted: the keyring refused ({type(exc).__name__})")
        else:
            outcome = _Outcome(True, f"deleted the {venue} keys" if removed else "nothing stored")
        self.app.call_from_thread(self._done, outcome)

    def action_close(self) -> None:
        if self.typing:
            self._stop_typing()
            self._result("nothing stored")
            return
        self.dismiss(None)
