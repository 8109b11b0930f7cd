"""API keys in the OS keyring: store, load, delete, and say which backend holds them.

The key and secret live under the service "hftui", one entry each per venue. Nothing else
in the product keeps them: not config, logs, the journal or shared memory. The engine loads
them when it goes live and holds the secret only inside the venue client.

Backends are not all equal. Over SSH on a headless server there is usually no Secret
Service, and when keyrings.alt is installed `keyring` silently falls back to a plaintext
file. For a real venue (`binance`, `binance-testnet`) hftui therefore refuses plaintext and
"fail"/"null" backends unless `HFTUI_ALLOW_INSECURE_KEYRING=1` opts in; the local exchange's
keys are for a simulator and any backend will do. On venue `local` with no keys stored, the
exchange's built-in demo account is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final, NoReturn

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET

__all__ = [
    "GUIDANCE",
    "SERVICE",
    "KeyStatus",
    "KeyringUnusableError",
    "StoredKeys",
    "backend_name",
    "delete_keys",
    "insecure_reason",
    "key_status",
    "load_keys",
    "mask_key",
    "no_backend",
    "store_keys",
]

SERVICE: Final = "hftui"
_OPT_IN: Final = "HFTUI_ALLOW_INSECURE_KEYRING"
# Binance HMAC keys and secrets are 64 characters. The cap only refuses pasted garbage (a
# whole file, a PEM block); it leaves room for any key format a venue plausibly issues.
MAX_LENGTH: Final = 256

GUIDANCE: Final = (
    "No usable OS keyring. On a headless server over SSH there is usually no Secret Service. "
    "Either install an encrypted file backend (pip install keyrings.cryptfile, then "
    "export PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring; it asks "
    "for a passphrase), or run hftui inside a Secret Service session "
    "(dbus-run-session -- sh -c 'echo -n PASS | gnome-keyring-daemon --unlock; hftui'). "
    "See the README, section API keys."
)


class KeyringUnusableError(RuntimeError):
    """The keyring backend cannot (or may not) hold keys for this venue; the message says
    what to do."""


@dataclass(frozen=True, slots=True)
class StoredKeys:
    """A venue's credentials. `repr` never shows the secret."""

    api_key: str
    secret: str
    demo: bool = False  # the local exchange's published demo account

    def __repr__(self) -> str:
        return f"StoredKeys(api_key={self.api_key[:6]}..., secret=<hidden>, demo={self.demo})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        # Pickling is how objects reach other processes and files; the secret must not.
        raise TypeError("StoredKeys holds a secret and cannot be pickled")


@dataclass(frozen=True, slots=True)
class KeyStatus:
    venue: str
    backend: str
    stored: bool
    api_key_hint: str  # the first characters of the key, never the secret
    usable: bool
    problem: str
    # For screens: e.g. "abcd…wxyz" (`mask_key`), "" when none is stored. Derived from the
    # stored key like the hint, so it takes no part in comparing two statuses.
    api_key_mask: str = field(default="", compare=False)


def mask_key(api_key: str) -> str:
    """The key as a screen shows it: its first and last four characters, e.g. `abcd…wxyz`;
    only the first two of a key too short to hide much of it that way."""
    if len(api_key) >= 16:
        return f"{api_key[:4]}…{api_key[-4:]}"
    return f"{api_key[:2]}…" if api_key else ""


def _backend() -> KeyringBackend:
    return keyring.get_keyring()


def backend_name(backend: KeyringBackend | None = None) -> str:
    """The backend's dotted class name, e.g. `keyring.backends.SecretService.Keyring`."""
    b = backend or _backend()
    return f"{type(b).__module__}.{type(b).__name__}"


def insecure_reason(backend: KeyringBackend | None = None) -> str:
    """Why this backend must not hold real keys, or "" when it may."""
    name = backend_name(backend)
    if name.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return f"keyring backend {name} cannot store anything"
    if name.startswith("keyrings.alt.file.PlaintextKeyring") or "Plaintext" in name:
        return f"keyring backend {name} keeps secrets in a plaintext file"
    if name.startswith("keyring.backends.chainer"):
        inner = list(getattr(backend or _backend(), "backends", []))
        if not inner:
            return "no keyring backend is available"
        # The chainer stores in its first backend, which may well be the plaintext file.
        return insecure_reason(inner[0])
    return ""


def no_backend(backend: KeyringBackend | None = None) -> bool:
    """True when no backend can store anything at all (`fail`, `null`, or an empty chainer):
    then only `GUIDANCE` helps, for every venue."""
    reason = insecure_reason(backend)
    return reason.endswith("cannot store anything") or reason == "no keyring backend is available"


def _check_usable(venue: str) -> None:
    problem = insecure_reason()
    if venue == "local" or not problem or os.environ.get(_OPT_IN) == "1":
        return
    # The override only makes sense for a backend that can store at all.
    override = f" (set {_OPT_IN}=1 to accept it anyway)" if "plaintext" in problem else ""
    raise KeyringUnusableError(f"{problem}{override}. {GUIDANCE}")


def _user(venue: str, what: str) -> str:
    return f"{venue}:{what}"


def _with_guidance(exc: BaseException) -> str:
    return f"{str(exc).rstrip('.')}. {GUIDANCE}"


def _validate(label: str, value: str) -> None:
    # The message describes the value, never quotes it: it may be the secret.
    if not value:
        raise ValueError(f"the {label} is empty")
    if len(value) > MAX_LENGTH:
        raise ValueError(
            f"the {label} is {len(value)} characters long; at most {MAX_LENGTH} are accepted"
        )
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError(f"the {label} must be printable ASCII without spaces")


def store_keys(venue: str, api_key: str, secret: str) -> None:
    """Store a venue's key and secret.

    Raises:
        KeyringUnusableError: the backend may not or cannot hold them.
        ValueError: an empty or malformed key or secret.
    """
    _validate("API key", api_key)
    _validate("secret", secret)
    _check_usable(venue)
    try:
        keyring.set_password(SERVICE, _user(venue, "api_key"), api_key)
        keyring.set_password(SERVICE, _user(venue, "secret"), secret)
        # A backend that accepts and forgets (the "null" one) must not pass for a store.
        kept = keyring.get_password(SERVICE, _user(venue, "api_key")) == api_key and (
            keyring.get_password(SERVICE, _user(venue, "secret")) == secret
        )
    except keyring.errors.KeyringError as exc:
        raise KeyringUnusableError(f"the keyring refused to store: {_with_guidance(exc)}") from None
    if not kept:
        raise KeyringUnusableError(
            f"keyring backend {backend_name()} did not keep the keys. {GUIDANCE}"
        )


def load_keys(venue: str) -> StoredKeys | None:
    """The venue's keys; the demo account on `local` when none are stored; None otherwise.

    Raises:
        KeyringUnusableError: keys for a real venue sit in an unsafe backend, or the keyring
            cannot be read at all (saying "no keys stored" then would send the user to store
            keys that are probably there, in a keyring this session cannot reach).
    """
    try:
        api_key = keyring.get_password(SERVICE, _user(venue, "api_key"))
        secret = keyring.get_password(SERVICE, _user(venue, "secret"))
    except keyring.errors.KeyringError as exc:
        if venue != "local":
            raise KeyringUnusableError(f"cannot read the keyring: {_with_guidance(exc)}") from None
        api_key = secret = None
    if api_key and secret:
        _check_usable(venue)
        return StoredKeys(api_key, secret)
    if venue == "local":
        return StoredKeys(DEMO_API_KEY, DEMO_API_SECRET, demo=True)
    return None


def delete_keys(venue: str) -> bool:
    """Remove a venue's keys; False when there were none."""
    removed = False
    for what in ("api_key", "secret"):
        try:
            keyring.delete_password(SERVICE, _user(venue, what))
            removed = True
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise KeyringUnusableError(f"the keyring refused to delete: {exc}") from None
    return removed


def key_status(venue: str) -> KeyStatus:
    """What is stored for `venue` and whether it can be used, without revealing the secret."""
    name = backend_name()
    try:
        api_key = keyring.get_password(SERVICE, _user(venue, "api_key"))
        has_secret = keyring.get_password(SERVICE, _user(venue, "secret")) is not None
    except keyring.errors.KeyringError as exc:
        # On `local` the demo account still works without a keyring.
        return KeyStatus(venue, name, False, "", venue == "local", _with_guidance(exc))
    stored = bool(api_key) and has_secret
    problem = ""
    try:
        _check_usable(venue)
    except KeyringUnusableError as exc:
        problem = str(exc)
    hint = (api_key or "")[:6] + "..." if stored else ""
    usable = (stored or venue == "local") and not problem
    mask = mask_key(api_key or "") if stored else ""
    return KeyStatus(venue, name, stored, hint, usable, problem, mask)
