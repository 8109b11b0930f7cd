"""`load_config` on generated files: valid TOML with a wrong type, an out-of-range value or an
unknown key in any section, and text that is not TOML at all.

The contract: a `Config` whose values are what the file says and allowed, or `ConfigError`
naming the file and the offending `section.key`; never any other exception.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hftui.config import Config, ConfigError, load_config
from tests.fuzz import examples

FUZZ = settings(
    max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

KEYS: dict[str, tuple[str, ...]] = {
    "venue": ("name", "url"),
    "market": (
        "symbols",
        "depth_speed",
        "stale_after_s",
        "record_dir",
        "connection_lifetime_s",
        "top_tolerance_s",
    ),
    "engine": ("instance", "mode", "publish_hz", "dead_man", "dead_man_after_s"),
    "exchange": ("seed", "port"),
    "tui": ("refresh_hz",),
    "logging": ("level", "max_bytes", "backups"),
    "risk": (
        "max_order_qty",
        "max_order_notional",
        "max_position",
        "max_open_orders",
        "price_band_bps",
        "max_open_orders_total",
        "max_orders_per_s",
        "daily_loss_limit",
        "symbols",
        "budgets",
    ),
    "paper": ("latency_ms", "maker_fee_rate", "taker_fee_rate"),
    "live": (
        "recv_window_ms",
        "request_timeout_s",
        "countdown_s",
        "reconcile_interval_s",
        "on_mismatch",
        "user_stream_heartbeat_s",
        "self_trade_prevention",
    ),
    "strategies": (
        "enabled",
        "path",
        "max_mode",
        "params",
        "callback_budget_ms",
        "reload_interval_s",
    ),
    "metrics": ("enabled", "port"),
}

# Values near what each key takes, and far from it.
toml_scalar = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "BTCUSDT\n",
            "default\n",
            "momentum\n",
            "~nosuchuser_hftui/x",
            "~",
            "http://127.0.0.1:8080",
            "local",
            "100ms",
            "DEBUG",
            "live",
            "observe",
            "EXPIRE_MAKER",
            "",
            " ",
        ]
    )
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def quoted(text: str) -> str:
    """A TOML basic string: JSON's escapes, but astral characters as they are (TOML has no
    surrogate pairs) and DEL escaped (TOML refuses it raw)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml(value: object) -> str:
    """`value` as a TOML value (inline tables for dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            ("-inf" if value < 0 else "inf")
            if math.isinf(value)
            else "nan"
            if value != value
            else repr(value)
        )
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{quoted(k)} = {toml(v)}" for k, v in value.items()) + "}"


def document(tables: dict[str, dict[str, object]]) -> str:
    lines: list[str] = []
    for section, values in tables.items():
        lines.append(f"[{section}]")
        lines += [f"{quoted(k)} = {toml(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def load(text: str) -> Config | ConfigError:
    """The config `text` loads to, or the ConfigError (naming the file) it is refused with;
    any other exception propagates and fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_config(path)
        except ConfigError as exc:
            error = exc
    assert str(path) in str(error)
    return error


def allowed(config: Config) -> None:
    """What a loaded config may hold, whatever the file said."""
    for symbol in config.market.symbols:
        assert re.fullmatch(r"[A-Z0-9]{2,20}", symbol), symbol
    assert re.fullmatch(r"[a-z0-9_]{1,16}", config.engine.instance), config.engine.instance
    for name in config.strategies.enabled:
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name), name
    for number in (config.market.stale_after_s, config.engine.publish_hz, config.tui.refresh_hz):
        assert math.isfinite(number)


@FUZZ
@given(
    section=st.sampled_from(sorted(KEYS)),
    data=st.data(),
    value=toml_value,
)
@example(section="market", data=None, value=["BTCUSDT\n"])
@example(section="engine", data=None, value="default\n")
@example(section="market", data=None, value="~nosuchuser_hftui/x")
def test_one_bad_value_is_named_by_its_section_and_key(
    section: str, data: st.DataObject | None, value: object
) -> None:
    if data is None:  # the explicit examples: the first key that takes such a value
        key = {"market": "symbols" if isinstance(value, list) else "record_dir"}.get(
            section, "instance"
        )
    else:
        key = data.draw(st.sampled_from(KEYS[section]) | st.text(min_size=1, max_size=10))
    outcome = load(document({section: {key: value}}))
    if isinstance(outcome, ConfigError):
        message = str(outcome)
        assert f"{section}.{key}" in message or f"[{section}]" in message, message
    else:
        allowed(outcome)


@FUZZ
@given(
    tables=st.dictionaries(
        st.sampled_from(sorted(KEYS)) | st.text(min_size=1, max_size=8).map(quoted),
        st.dictionaries(st.text(min_size=1, max_size=10), toml_value, max_size=4),
        max_size=4,
    )
)
def test_any_document_loads_or_is_a_config_error(tables: dict[str, dict[str, object]]) -> None:
    outcome = load(document(tables))
    if not isinstance(outcome, ConfigError):
        allowed(outcome)


@FUZZ
@given(text=st.text(max_size=200), cut=st.integers(0, 400))
@example(text='[market]\nsymbols = ["BTCUSDT"', cut=400)
@example(text="[risk.symbols]\nBTCUSDT = 5\n", cut=400)
def test_any_text_loads_or_is_a_config_error(text: str, cut: int) -> None:
    valid = '[market]\nsymbols = ["BTCUSDT", "ETHUSDT"]\n[risk]\nmax_open_orders = 5\n'
    for candidate in (text, (valid + text)[:cut], valid[:cut] + text):
        outcome = load(candidate)
        if not isinstance(outcome, ConfigError):
            allowed(outcome)
