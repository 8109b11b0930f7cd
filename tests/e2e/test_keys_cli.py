"""End to end: `hftui keys` as a real process, with keyrings.alt's file backend in the test's
temp dir and a real local exchange holding its own accounts. Afterwards the secret must be
nowhere but the keyring file: not in config, logs, data files, stdout or stderr."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import orjson
import pytest

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from tests.support.processes import ACCOUNTS_FILE, HFTUI, isolated_env, local_exchange

pytestmark = pytest.mark.e2e

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
KEY = "e2eKEYaaaabbbbccccddddeeeeffffgggghhhhiiiijjjjkkkkllllmmmmnnnnoo"
SECRET = "e2eSECRETppppqqqqrrrrssssttttuuuuvvvvwwwwxxxxyyyyzzzz0123456789"
STATUS_FIELDS = {"ok", "venue", "backend", "stored", "api_key_hint", "usable", "text"}


class Session:
    """One user's shell: an isolated environment and every byte the CLI printed."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = isolated_env(home)
        self.env["HOME"] = str(home / "home")  # no fallback path may reach the real home
        self.env["PYTHON_KEYRING_BACKEND"] = PLAINTEXT
        self.env.pop("HFTUI_ALLOW_INSECURE_KEYRING", None)
        self.printed: list[str] = []

    @property
    def keyring_file(self) -> Path:
        # keyrings.alt keeps its file at $XDG_DATA_HOME/python_keyring/keyring_pass.cfg.
        return Path(self.env["XDG_DATA_HOME"]) / "python_keyring" / "keyring_pass.cfg"

    def run(
        self, args: list[str], stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*HFTUI, *args],
            env={**self.env, **env},
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        self.printed += [done.stdout, done.stderr]
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, args: list[str], stdin: str | None = None, **env: str) -> dict[str, object]:
        done = self.run([*args, "--json"], stdin, **env)
        doc = orjson.loads(done.stdout)
        assert isinstance(doc, dict), done.stdout
        doc["_rc"] = done.returncode
        return doc

    def use_exchange(self, url: str) -> None:
        """`keys test` on venue local calls the exchange named in the config."""
        path = Path(self.env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'[venue]\nname = "local"\nurl = "{url}"\n')

    def assert_secret_confined(self, secret: str, expect_logs: bool = False) -> None:
        """The secret, raw or as the keyring file encodes it, is only in the keyring file."""
        forms = secret_forms(secret)
        # The keyring file holds it by design, and so does the local exchange's own accounts
        # file (the venue's side of the key, written by the test rig).
        files = [
            p
            for p in self.home.rglob("*")
            if p.is_file() and p != self.keyring_file and p.name != ACCOUNTS_FILE
        ]
        if expect_logs:  # the scan does reach the processes' logs
            assert any(p.suffix == ".log" and p.stat().st_size for p in files)
        for path in files:
            body = path.read_bytes()
            for form in forms:
                assert form not in body, f"the secret is in {path}"
        for text in self.printed:
            assert secret not in text


def secret_forms(secret: str) -> list[bytes]:
    """The secret as bytes, and as the file keyring writes it: base64, wrapped every 57 input
    bytes. The base64 of its first 48 bytes (a whole number of 3-byte groups) is on one line."""
    raw = secret.encode()
    assert len(raw) >= 48
    return [raw, base64.b64encode(raw[:48])]


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Session(tmp_path)


def test_set_reads_the_secret_from_stdin_and_never_from_argv(session: Session) -> None:
    usage = session.run(["keys", "set", "--help"]).stdout
    assert "--venue" in usage
    for option in ("--secret", "--api-secret", "--key", "--api-key", "--password"):
        assert option not in usage
        refused = session.run(["keys", "set", "--venue", "local", option, "x"], f"{KEY}\n")
        assert refused.returncode == 2
        assert "unrecognized arguments" in refused.stderr
    assert not session.keyring_file.exists()

    doc = session.json(["keys", "set", "--venue", "local"], f"{KEY}\n{SECRET}\n")
    assert doc == {
        "ok": True,
        "venue": "local",
        "backend": PLAINTEXT,
        "stored": True,
        "api_key_hint": KEY[:6] + "...",
        "usable": True,
        "text": "stored",
        "_rc": 0,
    }
    assert session.keyring_file.stat().st_mode & 0o777 == 0o600


def test_set_refuses_incomplete_or_malformed_stdin(session: Session) -> None:
    for stdin, why in (
        ("", "stdin must hold the API key on line 1 and the secret on line 2"),
        (f"{KEY}\n", "stdin must hold the API key on line 1 and the secret on line 2"),
        (f"{KEY}\n\n", "the secret is empty"),
        (f"{KEY}\nsec ret\n", "the secret must be printable ASCII without spaces"),
        (f"{KEY}\n{'s' * 5000}\n", "the secret is 5000 characters long"),
    ):
        done = session.run(["keys", "set", "--venue", "local"], stdin)
        assert done.returncode == 2, stdin
        assert why in done.stderr
        assert "sec ret" not in done.stderr
    assert not session.keyring_file.exists()


def test_status_json_with_and_without_keys(session: Session) -> None:
    empty = session.json(["keys", "status", "--venue", "local"])
    assert set(empty) - {"_rc"} == STATUS_FIELDS
    assert empty["stored"] is False
    assert empty["usable"] is True  # the demo account stands in
    assert empty["backend"] == PLAINTEXT
    human = session.run(["keys", "status", "--venue", "local"]).stdout
    assert "the local demo account is used" in human
    assert PLAINTEXT in human

    session.run(["keys", "set", "--venue", "local"], f"{KEY}\n{SECRET}\n")
    stored = session.json(["keys", "status", "--venue", "local"])
    assert stored == {**empty, "stored": True, "api_key_hint": KEY[:6] + "...", "text": "ok"}
    session.assert_secret_confined(SECRET)


def test_a_real_venue_refuses_the_plaintext_file_unless_opted_in(session: Session) -> None:
    refused = session.run(["keys", "set", "--venue", "binance-testnet"], f"{KEY}\n{SECRET}\n")
    assert refused.returncode == 3
    assert "plaintext" in refused.stderr
    assert "HFTUI_ALLOW_INSECURE_KEYRING=1" in refused.stderr
    assert not session.keyring_file.exists()
    status = session.json(["keys", "status", "--venue", "binance-testnet"])
    assert status["ok"] is False
    assert status["usable"] is False

    allowed = session.json(
        ["keys", "set", "--venue", "binance-testnet"],
        f"{KEY}\n{SECRET}\n",
        HFTUI_ALLOW_INSECURE_KEYRING="1",
    )
    assert allowed["_rc"] == 0
    assert allowed["stored"] is True
    session.assert_secret_confined(SECRET)


def test_no_keyring_at_all_explains_what_to_do(session: Session) -> None:
    fail = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    for action in ("set", "test"):
        done = session.run(["keys", action, "--venue", "binance"], f"{KEY}\n{SECRET}\n", **fail)
        assert done.returncode == 3, done.stderr
        assert "keyrings.cryptfile" in done.stderr
        assert "dbus-run-session" in done.stderr
    status = session.json(["keys", "status", "--venue", "binance"], **fail)
    assert status["backend"] == "keyring.backends.fail.Keyring"
    assert status["usable"] is False
    assert "keyrings.cryptfile" in str(status["text"])


def test_keys_test_against_a_real_exchange(session: Session, tmp_path: Path) -> None:
    other_key = "e2eOTHERkey0000000000000000000000000000000000000000000000000000"
    other_secret = "e2eOTHERsecret00000000000000000000000000000000000000000000000000"
    accounts = [
        f"{DEMO_API_KEY}:{DEMO_API_SECRET}",
        f"{KEY}:{SECRET}",
        f"{other_key}:{other_secret}",
    ]
    with local_exchange(session.env, tmp_path, accounts=accounts) as url:
        session.use_exchange(url)

        # No keys stored: the demo account, which this exchange also knows.
        demo = session.json(["keys", "test", "--venue", "local"])
        assert demo["ok"] is True, demo
        assert "(the local demo account)" in str(demo["text"])

        session.run(["keys", "set", "--venue", "local"], f"{KEY}\n{SECRET}\n")
        good = session.json(["keys", "test", "--venue", "local"])
        assert good["_rc"] == 0
        assert good["ok"] is True
        assert re.fullmatch(
            rf"keys work on local \({re.escape(url)}\); available balance [0-9.]+ USDT",
            str(good["text"]),
        ), good
        human = session.run(["keys", "test", "--venue", "local"])
        assert human.returncode == 0
        assert human.stdout.startswith(f"keys work on local ({url})")
        assert "demo" not in human.stdout

        # A key the exchange does not know: Binance's -2015.
        session.run(["keys", "set", "--venue", "local"], f"e2eUNKNOWNkey\n{SECRET}\n")
        unknown = session.run(["keys", "test", "--venue", "local"])
        assert unknown.returncode == 3
        assert unknown.stderr.startswith("hftui: the venue refused the keys: ")
        assert "-2015" in unknown.stderr
        unknown_json = session.json(["keys", "test", "--venue", "local"])
        assert unknown_json["ok"] is False
        assert unknown_json["_rc"] == 3

        # A known key signed with another account's secret: Binance's -1022.
        session.run(["keys", "set", "--venue", "local"], f"{KEY}\n{other_secret}\n")
        wrong = session.run(["keys", "test", "--venue", "local"])
        assert wrong.returncode == 3
        assert "-1022" in wrong.stderr

    session.assert_secret_confined(SECRET, expect_logs=True)
    session.assert_secret_confined(other_secret, expect_logs=True)


def test_delete_then_status_and_test(session: Session, tmp_path: Path) -> None:
    session.run(["keys", "set", "--venue", "local"], f"{KEY}\n{SECRET}\n")
    deleted = session.json(["keys", "delete", "--venue", "local"])
    assert deleted["_rc"] == 0
    assert deleted["text"] == "deleted"
    assert deleted["stored"] is False
    again = session.json(["keys", "delete", "--venue", "local"])
    assert again["text"] == "nothing stored"
    kept = session.keyring_file.read_bytes()
    assert secret_forms(KEY)[1] not in kept
    assert secret_forms(SECRET)[1] not in kept

    # After the delete the exchange (knowing only the stored account) refuses the demo keys.
    with local_exchange(session.env, tmp_path, accounts=[f"{KEY}:{SECRET}"]) as url:
        session.use_exchange(url)
        done = session.run(["keys", "test", "--venue", "local"])
        assert done.returncode == 3
        assert "-2015" in done.stderr
    session.assert_secret_confined(SECRET)


def test_a_real_venue_without_keys_points_to_keys_set(session: Session) -> None:
    done = session.run(["keys", "test", "--venue", "binance"])
    assert done.returncode == 3
    assert "no keys stored for binance; use `hftui keys set --venue binance`" in done.stderr
