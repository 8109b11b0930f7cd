"""Config loading: defaults, valid files, and errors that name the key, value and choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from hftui.config import Config, ConfigError, load_config
from hftui.protocol import Mode


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_no_file_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_config()
    assert config == Config()
    assert config.venue.name == "local"
    assert config.engine.mode is Mode.OBSERVE


def test_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[venue]
name = "local"
url = "http://127.0.0.1:9000/"
[market]
symbols = ["BTCUSDT", "SOLUSDT"]
depth_speed = "250ms"
[exchange]
seed = 42
[tui]
refresh_hz = 20
[live]
self_trade_prevention = "EXPIRE_TAKER"
""",
    )
    config = load_config(path)
    assert config.venue.url == "http://127.0.0.1:9000"
    assert config.market.symbols == ("BTCUSDT", "SOLUSDT")
    assert config.market.depth_speed == "250ms"
    assert config.exchange.seed == 42
    assert config.tui.refresh_hz == 20.0
    assert config.live.self_trade_prevention == "EXPIRE_TAKER"
    assert config.source == path


def test_xdg_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "hftui").mkdir()
    (tmp_path / "hftui" / "config.toml").write_text("[exchange]\nseed = 7\n")
    assert load_config().exchange.seed == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[venue]\nname = "kraken"',
            "venue.name = 'kraken' is not allowed: expected one of "
            "'local', 'binance-testnet', 'binance'",
        ),
        ('[venue]\nurl = "ftp://x"', "venue.url = 'ftp://x' is not allowed"),
        ('[market]\nsymbols = ["btcusdt"]', "market.symbols = ['btcusdt'] is not allowed"),
        ("[market]\nsymbols = []", "market.symbols = [] is not allowed"),
        ('[market]\nsymbols = ["BTCUSDT", "BTCUSDT"]', "symbols must not repeat"),
        ('[market]\ndepth_speed = "10ms"', "market.depth_speed = '10ms' is not allowed"),
        ("[tui]\nrefresh_hz = 0", "tui.refresh_hz = 0 is not allowed: expected a number from 1"),
        ('[tui]\nrefresh_hz = "fast"', "tui.refresh_hz = 'fast' is not allowed"),
        ("[exchange]\nport = 70000", "exchange.port = 70000 is not allowed"),
        ("[exchange]\nseed = true", "exchange.seed = True is not allowed"),
        ("[tui]\ncolour = 1", "unknown key tui.colour; [tui] accepts: refresh_hz"),
        ("[gui]\nx = 1", "unknown section [gui]"),
        ('[engine]\nmode = "live"', "engine.mode = 'live' is not allowed: the engine always"),
        ('[engine]\ninstance = "Bad Name"', "engine.instance = 'Bad Name' is not allowed"),
        ("venue = 3", "[venue] must be a table, got 3"),
        ('[logging]\nlevel = "LOUD"', "logging.level = 'LOUD' is not allowed"),
        (
            '[live]\nself_trade_prevention = "expire_maker"',
            "live.self_trade_prevention = 'expire_maker' is not allowed: expected one of 'NONE'",
        ),
    ],
)
def test_errors_name_key_value_and_choices(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_secrets_are_refused_without_echoing_them(tmp_path: Path) -> None:
    path = write(tmp_path, '[venue]\napi_secret = "hunter2-very-secret"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "venue.api_secret" in str(caught.value)
    assert "keyring" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[venue\nname=")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
