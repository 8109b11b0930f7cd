"""The API-key store against real keyring backends selected by environment, as a user would:
keyrings.alt's plaintext file (in the test's temp dir), `keyring`'s "fail" backend (a headless
server with nothing installed) and its "null" backend (accepts and forgets)."""

from __future__ import annotations

import dataclasses
import pickle
import string
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.keys import (
    GUIDANCE,
    MAX_LENGTH,
    SERVICE,
    KeyringUnusableError,
    KeyStatus,
    StoredKeys,
    backend_name,
    delete_keys,
    insecure_reason,
    key_status,
    load_keys,
    store_keys,
)

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
FAIL = "keyring.backends.fail.Keyring"
NULL = "keyring.backends.null.Keyring"
OPT_IN = "HFTUI_ALLOW_INSECURE_KEYRING"

KEY = "k3yAAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKKKllllMMMMnnnnOOOOpp"
SECRET = "s3cretQQQQrrrrSSSSttttUUUUvvvvWWWWxxxxYYYYzzzz0000111122223333ab"

# What a key or secret may be: printable ASCII without whitespace.
TOKEN_CHARS = "".join(c for c in string.printable if not c.isspace())
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=MAX_LENGTH)
# Long enough that finding it in some output can only mean it leaked.
secrets = st.text(alphabet=TOKEN_CHARS, min_size=16, max_size=MAX_LENGTH)

SelectBackend = Callable[[str], keyring.backend.KeyringBackend]


@pytest.fixture
def select_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SelectBackend]:
    """Point every place a keyring backend could write into `tmp_path`, then return a function
    that selects a backend through PYTHON_KEYRING_BACKEND, the way a user does."""
    previous = keyring.get_keyring()
    # keyrings.alt keeps its file at $XDG_DATA_HOME/python_keyring/, falling back to
    # ~/.local/share; `keyring` reads its config from $XDG_CONFIG_HOME, falling back to
    # ~/.config. HOME is redirected too, so neither fallback can reach the real home.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(OPT_IN, raising=False)

    def select(name: str) -> keyring.backend.KeyringBackend:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", name)
        # `keyring` detects its backend once and caches it: detect again, from this env.
        keyring.core.init_backend()
        chosen = keyring.get_keyring()
        assert backend_name(chosen) == name
        return chosen

    yield select
    keyring.set_keyring(previous)


@pytest.fixture
def plaintext(select_backend: SelectBackend, tmp_path: Path) -> Path:
    """The plaintext file backend; returns the path of its file."""
    chosen = select_backend(PLAINTEXT)
    path = Path(chosen.file_path)  # type: ignore[attr-defined]
    assert path == tmp_path / "data" / "python_keyring" / "keyring_pass.cfg"
    return path


@pytest.fixture
def opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPT_IN, "1")


def status_text(status: KeyStatus) -> str:
    """Everything a status could show: its repr, str and every field."""
    return " ".join([repr(status), str(status), *(str(v) for v in dataclasses.astuple(status))])


# ---- the file backend, round trips ---------------------------------------------------------


def test_the_file_backend_writes_only_inside_the_test_dir(plaintext: Path, tmp_path: Path) -> None:
    store_keys("local", KEY, SECRET)
    assert plaintext.is_file()
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert written == [plaintext]
    assert plaintext.stat().st_mode & 0o777 == 0o600


def test_store_then_load_round_trips(plaintext: Path) -> None:
    store_keys("local", KEY, SECRET)
    assert load_keys("local") == StoredKeys(KEY, SECRET, demo=False)
    # The entries are where the docs say: service "hftui", one user per venue and field.
    assert keyring.get_password(SERVICE, "local:api_key") == KEY
    assert keyring.get_password(SERVICE, "local:secret") == SECRET


def test_a_second_store_replaces_the_first(plaintext: Path) -> None:
    store_keys("local", KEY, SECRET)
    store_keys("local", "other-key", "other-secret")
    assert load_keys("local") == StoredKeys("other-key", "other-secret")


def test_venues_are_kept_apart(plaintext: Path, opt_in: None) -> None:
    store_keys("binance-testnet", KEY, SECRET)
    assert load_keys("binance") is None
    assert load_keys("local") == StoredKeys(DEMO_API_KEY, DEMO_API_SECRET, demo=True)
    assert load_keys("binance-testnet") == StoredKeys(KEY, SECRET)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(api_key=tokens, secret=secrets)
def test_any_valid_key_and_secret_round_trip_and_stay_out_of_status(
    plaintext: Path, api_key: str, secret: str
) -> None:
    # Only the key's first characters may show; a secret inside them would be a coincidence.
    assume(secret not in api_key)
    store_keys("local", api_key, secret)
    assert load_keys("local") == StoredKeys(api_key, secret)
    status = key_status("local")
    assert status.stored
    assert status.api_key_hint == api_key[:6] + "..."
    assert secret not in status_text(status)
    assert secret not in repr(load_keys("local"))
    assert delete_keys("local")


def test_delete_removes_both_entries_and_says_whether_there_were_any(
    plaintext: Path, opt_in: None
) -> None:
    store_keys("binance", KEY, SECRET)
    store_keys("local", KEY, SECRET)
    assert delete_keys("binance") is True
    assert keyring.get_password(SERVICE, "binance:api_key") is None
    assert keyring.get_password(SERVICE, "binance:secret") is None
    assert load_keys("binance") is None
    assert delete_keys("binance") is False
    assert load_keys("local") == StoredKeys(KEY, SECRET)  # another venue's keys stay


def test_delete_on_the_local_venue_brings_back_the_demo_account(plaintext: Path) -> None:
    store_keys("local", KEY, SECRET)
    assert delete_keys("local")
    keys = load_keys("local")
    assert keys == StoredKeys(DEMO_API_KEY, DEMO_API_SECRET, demo=True)


# ---- status ---------------------------------------------------------------------------------


def test_status_names_the_backend_and_hints_at_the_key_only(plaintext: Path) -> None:
    store_keys("local", KEY, SECRET)
    status = key_status("local")
    assert status == KeyStatus("local", PLAINTEXT, True, KEY[:6] + "...", True, "")
    assert SECRET not in status_text(status)
    assert KEY not in status_text(status)


def test_status_with_nothing_stored(plaintext: Path) -> None:
    assert key_status("binance-testnet").stored is False
    assert key_status("binance-testnet").api_key_hint == ""
    # The local venue is usable without keys: the demo account stands in.
    assert key_status("local") == KeyStatus("local", PLAINTEXT, False, "", True, "")


# ---- refusing insecure backends for real venues -------------------------------------------


@pytest.mark.parametrize("venue", ["binance", "binance-testnet"])
def test_plaintext_is_refused_for_a_real_venue(plaintext: Path, venue: str) -> None:
    with pytest.raises(KeyringUnusableError) as caught:
        store_keys(venue, KEY, SECRET)
    message = str(caught.value)
    assert "plaintext" in message
    assert PLAINTEXT in message
    assert f"{OPT_IN}=1" in message  # the way out is named
    assert "keyrings.cryptfile" in message
    assert SECRET not in message
    # Nothing was written on the way to the refusal.
    assert not plaintext.exists()
    status = key_status(venue)
    assert not status.usable
    assert "plaintext" in status.problem


def test_the_override_allows_plaintext_for_a_real_venue(plaintext: Path, opt_in: None) -> None:
    store_keys("binance", KEY, SECRET)
    assert load_keys("binance") == StoredKeys(KEY, SECRET)
    assert key_status("binance") == KeyStatus("binance", PLAINTEXT, True, KEY[:6] + "...", True, "")


@pytest.mark.parametrize("value", ["0", "true", "yes", ""])
def test_only_the_value_1_opts_in(
    plaintext: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(OPT_IN, value)
    with pytest.raises(KeyringUnusableError):
        store_keys("binance", KEY, SECRET)


def test_keys_stored_under_the_override_are_refused_once_it_is_gone(
    plaintext: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OPT_IN, "1")
    store_keys("binance", KEY, SECRET)
    monkeypatch.delenv(OPT_IN)
    with pytest.raises(KeyringUnusableError, match="plaintext"):
        load_keys("binance")
    status = key_status("binance")
    assert status.stored
    assert not status.usable
    assert SECRET not in status_text(status)


def test_the_local_venue_takes_any_backend(plaintext: Path) -> None:
    store_keys("local", KEY, SECRET)
    assert key_status("local").problem == ""


# ---- no usable backend ---------------------------------------------------------------------


def test_fail_backend_refuses_a_real_venue_with_guidance(select_backend: SelectBackend) -> None:
    select_backend(FAIL)
    with pytest.raises(KeyringUnusableError) as caught:
        store_keys("binance", KEY, SECRET)
    message = str(caught.value)
    assert "cannot store anything" in message
    assert GUIDANCE in message
    # Neither the plaintext override (it would not help) nor the secret is offered.
    assert OPT_IN not in message
    assert SECRET not in message


def test_fail_backend_on_the_local_venue_explains_instead_of_raising_keyring_errors(
    select_backend: SelectBackend,
) -> None:
    select_backend(FAIL)
    with pytest.raises(KeyringUnusableError) as caught:
        store_keys("local", KEY, SECRET)
    assert GUIDANCE in str(caught.value)
    assert ".. " not in str(caught.value)
    # `from None`: a printed traceback would not drag keyring's internals (or values) along.
    assert caught.value.__suppress_context__
    assert caught.value.__cause__ is None
    with pytest.raises(KeyringUnusableError, match="refused to delete"):
        delete_keys("local")


def test_fail_backend_loading_a_real_venue_says_the_keyring_is_unreachable(
    select_backend: SelectBackend,
) -> None:
    # Not None ("no keys stored"): the keys may well be in a keyring this session cannot
    # reach, e.g. a desktop's Secret Service seen from SSH.
    select_backend(FAIL)
    with pytest.raises(KeyringUnusableError) as caught:
        load_keys("binance")
    assert "cannot read the keyring" in str(caught.value)
    assert GUIDANCE in str(caught.value)


def test_fail_backend_still_gives_the_local_demo_account(select_backend: SelectBackend) -> None:
    select_backend(FAIL)
    assert load_keys("local") == StoredKeys(DEMO_API_KEY, DEMO_API_SECRET, demo=True)
    status = key_status("local")
    assert status.backend == FAIL
    assert status.usable
    assert not status.stored


def test_fail_backend_status_explains(select_backend: SelectBackend) -> None:
    select_backend(FAIL)
    status = key_status("binance")
    assert status.backend == FAIL
    assert not status.stored
    assert not status.usable
    assert GUIDANCE in status.problem


def test_a_backend_that_forgets_is_not_taken_for_a_store(select_backend: SelectBackend) -> None:
    select_backend(NULL)
    with pytest.raises(KeyringUnusableError, match="did not keep the keys"):
        store_keys("local", KEY, SECRET)
    assert load_keys("local") == StoredKeys(DEMO_API_KEY, DEMO_API_SECRET, demo=True)


def test_insecure_reason_per_backend(
    select_backend: SelectBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = select_backend(PLAINTEXT)
    assert "plaintext" in insecure_reason(plain)
    assert "cannot store" in insecure_reason(select_backend(FAIL))
    assert "cannot store" in insecure_reason(select_backend(NULL))
    # A chainer stores in its first backend; limited to the plaintext file (whatever else
    # this machine offers), that is where the keys would go.
    monkeypatch.setattr(keyring.backend, "_limit", lambda b: backend_name(b) == PLAINTEXT)
    chainer = keyring.core.load_keyring("keyring.backends.chainer.ChainerBackend")
    assert [backend_name(b) for b in getattr(chainer, "backends", [])] == [PLAINTEXT]
    assert "plaintext" in insecure_reason(chainer)


# ---- what the objects show ---------------------------------------------------------------


@given(api_key=tokens, secret=secrets)
def test_stored_keys_never_show_the_secret(api_key: str, secret: str) -> None:
    fixed = repr(StoredKeys("", "", demo=False)) + repr(StoredKeys("", "", demo=True))
    assume(secret not in api_key and secret not in fixed)
    keys = StoredKeys(api_key, secret)
    for shown in (repr(keys), str(keys), f"{keys}", f"{keys!r}", repr([keys]), str({"k": keys})):
        assert secret not in shown
        assert "secret=<hidden>" in shown


def test_stored_keys_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(StoredKeys(KEY, SECRET))


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_key", "secret", "why"),
    [
        ("", SECRET, "API key is empty"),
        (KEY, "", "secret is empty"),
        (KEY, " " + SECRET, "secret must be printable ASCII without spaces"),
        (KEY, SECRET + "\n", "secret must be printable ASCII without spaces"),
        (KEY, SECRET[:10] + " " + SECRET[10:], "secret must be printable"),
        (KEY, SECRET[:10] + "\t" + SECRET[10:], "secret must be printable"),
        (KEY, SECRET + "\x00", "secret must be printable"),
        (KEY, SECRET + "\x7f", "secret must be printable"),
        (KEY, SECRET + "\x1b[2J", "secret must be printable"),
        (KEY, SECRET + "é", "secret must be printable ASCII"),
        (KEY + "\u00a0", SECRET, "API key must be printable ASCII"),
        ("k" * (MAX_LENGTH + 1), SECRET, f"API key is {MAX_LENGTH + 1} characters long"),
        (KEY, "s" * 100_000, "secret is 100000 characters long; at most"),
    ],
    ids=[
        "empty-key",
        "empty-secret",
        "leading-space",
        "trailing-newline",
        "inner-space",
        "inner-tab",
        "nul",
        "del",
        "escape-sequence",
        "non-ascii-secret",
        "non-breaking-space-in-key",
        "key-too-long",
        "secret-absurdly-long",
    ],
)
def test_bad_input_is_refused_clearly_and_stores_nothing(
    plaintext: Path, api_key: str, secret: str, why: str
) -> None:
    with pytest.raises(ValueError, match=r"^the ") as caught:
        store_keys("local", api_key, secret)
    assert why in str(caught.value)
    if secret:
        assert secret not in str(caught.value)
    assert not plaintext.exists()
    assert load_keys("local") == StoredKeys(DEMO_API_KEY, DEMO_API_SECRET, demo=True)


def test_the_longest_accepted_values(plaintext: Path) -> None:
    store_keys("local", "k" * MAX_LENGTH, "s" * MAX_LENGTH)
    assert load_keys("local") == StoredKeys("k" * MAX_LENGTH, "s" * MAX_LENGTH)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    good=st.text(alphabet=TOKEN_CHARS, min_size=16, max_size=MAX_LENGTH - 1),
    bad=st.characters(exclude_characters=TOKEN_CHARS),
    at=st.integers(min_value=0, max_value=MAX_LENGTH),
)
def test_any_whitespace_control_or_non_ascii_character_is_refused(
    plaintext: Path, good: str, bad: str, at: int
) -> None:
    secret = good[:at] + bad + good[at:]
    with pytest.raises(ValueError, match=r"^the secret"):
        store_keys("local", KEY, secret)
    assert not plaintext.exists()
