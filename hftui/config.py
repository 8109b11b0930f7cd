"""Frozen, typed settings loaded from TOML and validated with errors that name the key.

Secrets are never config: API keys live in the OS keyring. A key in the file that looks like
a credential is refused rather than silently ignored, so it cannot sit in plain text unnoticed.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from hftui.paths import config_path
from hftui.protocol import MAX_SYMBOLS, VENUES, Mode

__all__ = [
    "Config",
    "ConfigError",
    "EngineConfig",
    "ExchangeSettings",
    "LiveSettings",
    "LoggingConfig",
    "MarketConfig",
    "MetricsConfig",
    "PaperSettings",
    "RiskConfig",
    "StrategiesConfig",
    "SymbolRisk",
    "TuiConfig",
    "VenueConfig",
    "load_config",
    "parse_config",
]

DepthSpeed = Literal["100ms", "250ms", "500ms"]
_SPEEDS: Final = ("100ms", "250ms", "500ms")
SelfTradePrevention = Literal["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
_STP_MODES: Final = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
# \Z, not $: "$" also matches before a trailing newline ("BTCUSDT\n").
_SYMBOL_RE: Final = re.compile(r"^[A-Z0-9]{2,20}\Z")
_INSTANCE_RE: Final = re.compile(r"^[a-z0-9_]{1,16}\Z")
_SECRET_RE: Final = re.compile(r"secret|api_?key|password|passphrase|token", re.IGNORECASE)


class ConfigError(ValueError):
    """The config file is unreadable or a value is not allowed; the message says which."""


@dataclass(frozen=True, slots=True)
class VenueConfig:
    name: str = "local"
    url: str | None = None  # for `local`: use the exchange already running there


@dataclass(frozen=True, slots=True)
class MarketConfig:
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    depth_speed: DepthSpeed = "100ms"
    stale_after_s: float = 5.0
    record_dir: Path | None = None  # record raw frames here (see `hftui record`)
    # A stream connection is replaced, make-before-break, before the venue's 24 h limit.
    connection_lifetime_s: float = 23.5 * 3600
    # A book whose top disagrees with bookTicker for this long is rebuilt from a snapshot.
    top_tolerance_s: float = 1.0
    # Each book is checked level by level against a REST snapshot this often; 0: never.
    verify_interval_s: float = 300.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    instance: str = "default"
    mode: Mode = Mode.OBSERVE
    publish_hz: float = 50.0
    # When the controlling TUI's heartbeats stop (an SSH drop): "cancel" every order and drop
    # to observe, or "keep" trading. Paper behaves as live would, so a rehearsal shows it.
    dead_man: Literal["cancel", "keep"] = "cancel"
    dead_man_after_s: float = 3.0


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    """How the engine starts the local exchange when the venue is `local` without a url."""

    seed: int = 1
    port: int = 0  # 0: any free port


@dataclass(frozen=True, slots=True)
class TuiConfig:
    refresh_hz: float = 10.0


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """The Prometheus exporter, always on 127.0.0.1 (README: Metrics)."""

    enabled: bool = True
    port: int = 9464  # 0: any free port (`hftui status` shows the URL)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "INFO"
    max_bytes: int = 10_000_000
    backups: int = 5


@dataclass(frozen=True, slots=True)
class SymbolRisk:
    """Per-symbol pre-trade limits. 0 means no limit of that kind."""

    max_order_qty: float = 0.0  # base units (BTC for BTCUSDT)
    max_order_notional: float = 50_000.0  # USDT
    max_position: float = 0.0  # base units, absolute
    max_open_orders: int = 50
    price_band_bps: float = 500.0  # limit price vs mid: the fat-finger band


@dataclass(frozen=True, slots=True)
class RiskConfig:
    default: SymbolRisk = field(default_factory=SymbolRisk)
    symbols: tuple[tuple[str, SymbolRisk], ...] = ()  # overrides of `default`
    max_open_orders_total: int = 200
    max_orders_per_s: float = 20.0
    daily_loss_limit: float = 0.0  # USDT; 0: none. Reaching it fires the kill switch
    budgets: tuple[tuple[str, float], ...] = ()  # strategy -> max gross exposure, USDT


@dataclass(frozen=True, slots=True)
class PaperSettings:
    latency_ms: float = 5.0  # applied to entry and cancel
    maker_fee_rate: float = 0.0002
    taker_fee_rate: float = 0.0005


@dataclass(frozen=True, slots=True)
class LiveSettings:
    recv_window_ms: int = 5000
    request_timeout_s: float = 5.0
    countdown_s: int = 60  # venue-side dead-man's switch (countdownCancelAll); 0: off
    # How often open orders and positions are checked against the venue's (also after every
    # user-stream reconnect); 0: only then. A mismatch is an alert, then either "correct"
    # (the venue's state is taken) or "halt" (the kill switch).
    reconcile_interval_s: float = 30.0
    on_mismatch: Literal["correct", "halt"] = "correct"
    # The user-data socket is pinged this often; no pong in half of it rebuilds the stream.
    user_stream_heartbeat_s: float = 30.0
    # Sent with every order: what the venue does when it would trade with one of this
    # account's own resting orders (two strategies on one account). EXPIRE_MAKER cancels the
    # resting one and the incoming order trades on; NONE lets the wash trade happen.
    self_trade_prevention: SelfTradePrevention = "EXPIRE_MAKER"


_STRATEGY_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")
_EXAMPLE_STRATEGIES: Final = ("momentum", "market_maker")  # on by default: the observe demo
ParamValue = bool | int | float | str


@dataclass(frozen=True, slots=True)
class StrategiesConfig:
    """The strategy host: which plugins run, their parameters, and how they are policed."""

    enabled: tuple[str, ...] = _EXAMPLE_STRATEGIES
    path: Path | None = None  # a directory of extra strategy modules, beside `strategies/`
    params: tuple[tuple[str, tuple[tuple[str, ParamValue], ...]], ...] = ()  # name -> overrides
    callback_budget_ms: float = 50.0  # a hook running longer pauses its strategy
    reload_interval_s: float = 0.5  # how often strategy files are checked for changes
    # The highest mode whose orders strategies may place: above it their intents are held.
    # Strategies never trade for real unless the file says so.
    max_mode: Mode = Mode.OBSERVE

    def params_of(self, name: str) -> dict[str, ParamValue]:
        return next((dict(p) for n, p in self.params if n == name), {})


@dataclass(frozen=True, slots=True)
class Config:
    venue: VenueConfig = field(default_factory=VenueConfig)
    market: MarketConfig = field(default_factory=MarketConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    tui: TuiConfig = field(default_factory=TuiConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    paper: PaperSettings = field(default_factory=PaperSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    source: Path | None = None  # the file it came from, None for built-in defaults
    strategies: StrategiesConfig = field(default_factory=StrategiesConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)


class _Table:
    """Reads one TOML table, remembering which keys were consumed."""

    def __init__(self, path: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"[{path}] must be a table, got {_show(raw)}")
        self.path = path
        self.raw: Mapping[str, object] = raw
        self.seen: set[str] = set()

    def _get(self, key: str) -> object | None:
        self.seen.add(key)
        return self.raw.get(key)

    def _bad(self, key: str, value: object, allowed: str) -> ConfigError:
        return ConfigError(f"{self.path}.{key} = {_show(value)} is not allowed: {allowed}")

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self._get(key)
        if value is None:
            return default
        if value not in allowed:
            raise self._bad(key, value, "expected one of " + ", ".join(map(repr, allowed)))
        return str(value)

    def text(self, key: str, pattern: re.Pattern[str] | None, allowed: str) -> str | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            raise self._bad(key, value, allowed)
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (low <= value <= high)
        ):
            raise self._bad(key, value, f"expected a number from {low:g} to {high:g}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(key, value, "expected true or false")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
            raise self._bad(key, value, f"expected an integer from {low} to {high}")
        return value

    def symbols(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return default
        allowed = f'expected a list of 1 to {MAX_SYMBOLS} upper-case symbols like "BTCUSDT"'
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_SYMBOLS:
            raise self._bad(key, value, allowed)
        for item in value:
            if not isinstance(item, str) or not _SYMBOL_RE.match(item):
                raise self._bad(key, value, allowed)
        if len(set(value)) != len(value):
            raise self._bad(key, value, "symbols must not repeat")
        return tuple(value)

    def finish(self) -> None:
        extra = sorted(set(self.raw) - self.seen)
        if extra:
            known = ", ".join(sorted(self.seen))
            raise ConfigError(f"unknown key {self.path}.{extra[0]}; [{self.path}] accepts: {known}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse_secrets(raw: Mapping[str, object], path: str = "") -> None:
    for key, value in raw.items():
        where = f"{path}.{key}" if path else key
        if _SECRET_RE.search(key):
            raise ConfigError(
                f"{where}: credentials are never read from config; store them in the OS "
                "keyring with `hftui keys` (the value was not read)"
            )
        if isinstance(value, Mapping):
            _refuse_secrets(value, where)


def _path(table: _Table, key: str) -> Path | None:
    text = table.text(key, re.compile(r"^\S"), "expected a directory path")
    if not text:
        return None
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~user" naming no user
        raise table._bad(key, text, "expected a directory path (~ names no known user)") from None


def _verify_interval(table: _Table) -> float:
    key, allowed = "verify_interval_s", "expected 0 (off) or a number of seconds from 1 to 86400"
    try:
        seconds = table.number(key, 300.0, 0.0, 86_400.0)
    except ConfigError:
        raise table._bad(key, table.raw.get(key), allowed) from None
    if 0 < seconds < 1:  # a snapshot every few hundred ms per symbol is a weight storm
        raise table._bad(key, seconds, allowed)
    return seconds


def _url(table: _Table) -> str | None:
    url = table.text("url", re.compile(r"^(https?|wss?)://[^\s/]+"), "expected an http(s) URL")
    return url.rstrip("/") if url else None


def parse_config(raw: Mapping[str, object], source: Path | None = None) -> Config:
    """Validate a parsed TOML document and build a `Config`.

    Raises:
        ConfigError: naming the key, the bad value and what is allowed.
    """
    _refuse_secrets(raw)
    sections = {"venue", "market", "engine", "exchange", "tui", "logging", "risk", "paper", "live"}
    sections.add("strategies")
    sections.add("metrics")
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise ConfigError(
            f"unknown section [{unknown[0]}]; sections are: " + ", ".join(sorted(sections))
        )

    t = _Table("venue", raw.get("venue", {}))
    venue = VenueConfig(name=t.choice("name", "local", VENUES), url=_url(t))
    t.finish()

    t = _Table("market", raw.get("market", {}))
    market = MarketConfig(
        symbols=t.symbols("symbols", ("BTCUSDT", "ETHUSDT")),
        depth_speed=t.choice("depth_speed", "100ms", _SPEEDS),  # type: ignore[arg-type]
        stale_after_s=t.number("stale_after_s", 5.0, 0.5, 3600.0),
        record_dir=_path(t, "record_dir"),
        connection_lifetime_s=t.number("connection_lifetime_s", 23.5 * 3600, 10.0, 86_000.0),
        top_tolerance_s=t.number("top_tolerance_s", 1.0, 0.2, 60.0),
        verify_interval_s=_verify_interval(t),
    )
    t.finish()

    t = _Table("engine", raw.get("engine", {}))
    instance = t.text("instance", _INSTANCE_RE, "expected 1-16 of a-z, 0-9, _") or "default"
    mode_name = t.choice("mode", "observe", tuple(m.label for m in Mode))
    if mode_name != "observe":
        # Modes go up one deliberate step at a time from the TUI or CLI, never from a file.
        raise ConfigError(
            f"engine.mode = {mode_name!r} is not allowed: the engine always starts in "
            "'observe'; switch up from the TUI or with `hftui mode`"
        )
    engine = EngineConfig(
        instance=instance,
        mode=Mode.OBSERVE,
        publish_hz=t.number("publish_hz", 50.0, 1.0, 1000.0),
        dead_man=t.choice("dead_man", "cancel", ("cancel", "keep")),  # type: ignore[arg-type]
        dead_man_after_s=t.number("dead_man_after_s", 3.0, 1.0, 3600.0),
    )
    t.finish()

    t = _Table("exchange", raw.get("exchange", {}))
    exchange = ExchangeSettings(
        seed=t.integer("seed", 1, 0, 2**63 - 1), port=t.integer("port", 0, 0, 65535)
    )
    t.finish()

    t = _Table("tui", raw.get("tui", {}))
    tui = TuiConfig(refresh_hz=t.number("refresh_hz", 10.0, 1.0, 60.0))
    t.finish()

    t = _Table("logging", raw.get("logging", {}))
    logging_config = LoggingConfig(
        level=t.choice("level", "INFO", _LEVELS),
        max_bytes=t.integer("max_bytes", 10_000_000, 100_000, 1_000_000_000),
        backups=t.integer("backups", 5, 0, 100),
    )
    t.finish()

    risk = _risk(raw.get("risk", {}), market.symbols)

    t = _Table("paper", raw.get("paper", {}))
    paper = PaperSettings(
        latency_ms=t.number("latency_ms", 5.0, 0.0, 10_000.0),
        maker_fee_rate=t.number("maker_fee_rate", 0.0002, -0.001, 0.01),
        taker_fee_rate=t.number("taker_fee_rate", 0.0005, 0.0, 0.01),
    )
    t.finish()

    t = _Table("live", raw.get("live", {}))
    live = LiveSettings(
        recv_window_ms=t.integer("recv_window_ms", 5000, 100, 60_000),
        request_timeout_s=t.number("request_timeout_s", 5.0, 0.5, 60.0),
        countdown_s=t.integer("countdown_s", 60, 0, 3600),
        reconcile_interval_s=t.number("reconcile_interval_s", 30.0, 0.0, 86_400.0),
        on_mismatch=t.choice("on_mismatch", "correct", ("correct", "halt")),  # type: ignore[arg-type]
        user_stream_heartbeat_s=t.number("user_stream_heartbeat_s", 30.0, 1.0, 600.0),
        self_trade_prevention=t.choice(  # type: ignore[arg-type]
            "self_trade_prevention", "EXPIRE_MAKER", _STP_MODES
        ),
    )
    t.finish()
    strategies = _strategies(raw.get("strategies", {}))
    t = _Table("metrics", raw.get("metrics", {}))
    metrics = MetricsConfig(enabled=t.flag("enabled", True), port=t.integer("port", 9464, 0, 65535))
    t.finish()
    return Config(
        venue,
        market,
        engine,
        exchange,
        tui,
        logging_config,
        risk,
        paper,
        live,
        source,
        strategies,
        metrics=metrics,
    )


def _symbol_risk(t: _Table, base: SymbolRisk) -> SymbolRisk:
    return SymbolRisk(
        max_order_qty=t.number("max_order_qty", base.max_order_qty, 0.0, 1e12),
        max_order_notional=t.number("max_order_notional", base.max_order_notional, 0.0, 1e12),
        max_position=t.number("max_position", base.max_position, 0.0, 1e12),
        max_open_orders=t.integer("max_open_orders", base.max_open_orders, 0, 10_000),
        price_band_bps=t.number("price_band_bps", base.price_band_bps, 0.0, 10_000.0),
    )


def _risk(raw: object, symbols: tuple[str, ...]) -> RiskConfig:
    t = _Table("risk", raw)
    default = _symbol_risk(t, SymbolRisk())
    per_symbol: list[tuple[str, SymbolRisk]] = []
    tables = t.raw.get("symbols", {})
    t.seen.add("symbols")
    st = _Table("risk.symbols", tables)
    for name in st.raw:
        if name not in symbols:
            raise ConfigError(
                f"risk.symbols.{name}: not a configured symbol; market.symbols are "
                + ", ".join(symbols)
            )
        st.seen.add(name)
        sub = _Table(f"risk.symbols.{name}", st.raw[name])
        per_symbol.append((name, _symbol_risk(sub, default)))
        sub.finish()
    budgets_raw = t.raw.get("budgets", {})
    t.seen.add("budgets")
    bt = _Table("risk.budgets", budgets_raw)
    budgets = tuple((name, bt.number(name, 0.0, 0.0, 1e12)) for name in list(bt.raw))
    config = RiskConfig(
        default=default,
        symbols=tuple(per_symbol),
        max_open_orders_total=t.integer("max_open_orders_total", 200, 1, 10_000),
        max_orders_per_s=t.number("max_orders_per_s", 20.0, 0.0, 10_000.0),
        daily_loss_limit=t.number("daily_loss_limit", 0.0, 0.0, 1e12),
        budgets=budgets,
    )
    t.finish()
    return config


def _strategies(raw: object) -> StrategiesConfig:
    t = _Table("strategies", raw)
    enabled_raw = t.raw.get("enabled", list(_EXAMPLE_STRATEGIES))
    t.seen.add("enabled")
    allowed = "expected a list of strategy names (lower-case module names like 'momentum')"
    if not isinstance(enabled_raw, list) or not all(
        isinstance(n, str) and _STRATEGY_RE.match(n) for n in enabled_raw
    ):
        raise t._bad("enabled", enabled_raw, allowed)
    if len(set(enabled_raw)) != len(enabled_raw):
        raise t._bad("enabled", enabled_raw, "strategy names must not repeat")
    path = _path(t, "path")
    max_mode = t.choice("max_mode", "observe", tuple(m.label for m in Mode))
    params: list[tuple[str, tuple[tuple[str, ParamValue], ...]]] = []
    pt = _Table("strategies.params", t.raw.get("params", {}))
    t.seen.add("params")
    for name, table in pt.raw.items():
        if name not in enabled_raw:
            raise ConfigError(
                f"strategies.params.{name}: not an enabled strategy; strategies.enabled is "
                + (", ".join(enabled_raw) or "empty")
            )
        sub = _Table(f"strategies.params.{name}", table)
        values: list[tuple[str, ParamValue]] = []
        for key, value in sub.raw.items():
            if not isinstance(value, bool | int | float | str):
                raise sub._bad(key, value, "expected a number, a string or true/false")
            values.append((key, value))
        params.append((name, tuple(values)))
    config = StrategiesConfig(
        enabled=tuple(enabled_raw),
        path=path,
        params=tuple(params),
        callback_budget_ms=t.number("callback_budget_ms", 50.0, 0.01, 60_000.0),
        reload_interval_s=t.number("reload_interval_s", 0.5, 0.05, 3600.0),
        max_mode=next(m for m in Mode if m.label == max_mode),
    )
    t.finish()
    return config


def differences(old: object, new: object, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted field, old, new) for every field of two config dataclasses that differs."""
    if not dataclasses.is_dataclass(old) or not dataclasses.is_dataclass(new):
        return [] if old == new else [(prefix or "value", old, new)]
    out: list[tuple[str, object, object]] = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        name = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(a):
            out += differences(a, b, name)
        elif a != b:
            out.append((name, a, b))
    return out


def load_config(path: Path | None = None) -> Config:
    """Load `path`, or the default XDG path if it exists, or built-in defaults.

    Raises:
        ConfigError: if an explicitly given file is missing, or any file is invalid.
    """
    explicit = path is not None
    path = path or config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    try:
        return parse_config(raw, source=path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
