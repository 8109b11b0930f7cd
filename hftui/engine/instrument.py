"""What the engine knows of each traded contract: its grid and filters, as integers.

Prices are counted in *ticks* and quantities in *lots* of the venue's grid, so nothing drifts.
A notional is `ticks * lots` in units of `tick_size * step_size`; `notional_scale` converts
quote currency (USDT) into those units. The venue-wide rate limits come from the same
exchangeInfo payload.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from hftui.engine.book import decimal_units
from hftui.protocol import format_units

__all__ = [
    "Instrument",
    "RateLimit",
    "parse_instruments",
    "parse_rate_limits",
]

log = logging.getLogger(__name__)

_INTERVAL_S: Final = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


@dataclass(frozen=True, slots=True)
class Instrument:
    """One contract's grid and filters. Prices in ticks, quantities in lots."""

    symbol: str
    index: int  # position in the engine's symbol list (snapshot block)
    tick_size: str
    step_size: str
    price_decimals: int
    qty_decimals: int
    tick_units: int  # tick size in 10**-price_decimals
    lot_units: int  # step size in 10**-qty_decimals
    min_price_ticks: int
    max_price_ticks: int  # 0: no maximum
    min_qty_lots: int
    max_qty_lots: int
    market_max_qty_lots: int
    min_notional: int  # in notional units (ticks * lots)
    max_open_orders: int
    percent_up: float  # PERCENT_PRICE: limit price <= mark * up, >= mark * down
    percent_down: float

    @property
    def notional_scale(self) -> float:
        """Notional units per unit of quote currency."""
        return float(10 ** (self.price_decimals + self.qty_decimals)) / (
            self.tick_units * self.lot_units
        )

    def price_ticks(self, text: str) -> int:
        """Ticks of a price string; ValueError when it is off the tick."""
        units = decimal_units(text, self.price_decimals)
        if units % self.tick_units:
            raise ValueError(f"price {text} is not a multiple of the tick {self.tick_size}")
        return units // self.tick_units

    def qty_lots(self, text: str) -> int:
        """Lots of a quantity string; ValueError when it is off the step."""
        units = decimal_units(text, self.qty_decimals)
        if units % self.lot_units:
            raise ValueError(f"quantity {text} is not a multiple of the step {self.step_size}")
        return units // self.lot_units

    def format_price(self, ticks: int) -> str:
        return format_units(ticks * self.tick_units, self.price_decimals)

    def format_qty(self, lots: int) -> str:
        return format_units(lots * self.lot_units, self.qty_decimals)

    def format_notional(self, notional: int) -> str:
        """A notional (ticks * lots) as quote currency with the combined decimals."""
        return format_units(
            notional * self.tick_units * self.lot_units, self.price_decimals + self.qty_decimals
        )

    def price_units_of(self, text: str) -> int:
        """Any price string (a fill's average, a mark) in 10**-price_decimals, rounding
        extra decimals half up."""
        head, _, frac = text.partition(".")
        kept, extra = frac[: self.price_decimals], frac[self.price_decimals :]
        units = decimal_units(f"{head}.{kept}" if kept else head, self.price_decimals)
        if extra and extra[0] >= "5":
            units += 1
        return units


def _filters(entry: dict[str, object]) -> dict[str, dict[str, object]]:
    raw = entry.get("filters")
    out: dict[str, dict[str, object]] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("filterType"), str):
            out[str(item["filterType"])] = item
    return out


def _instrument(entry: dict[str, object], index: int) -> Instrument:
    symbol = str(entry["symbol"])
    f = _filters(entry)
    price, lot = f["PRICE_FILTER"], f["LOT_SIZE"]
    market = f.get("MARKET_LOT_SIZE", lot)
    tick, step = str(price["tickSize"]), str(lot["stepSize"])
    pd, qd = _decimals(tick), _decimals(step)
    tick_units, lot_units = decimal_units(tick, pd), decimal_units(step, qd)
    if tick_units <= 0 or lot_units <= 0:
        raise ValueError(f"{symbol}: tick {tick} and step {step} must be positive")

    def ticks(text: object) -> int:
        return decimal_units(str(text), pd) // tick_units

    def lots(text: object) -> int:
        return decimal_units(str(text), qd) // lot_units

    notional_text = str(f.get("MIN_NOTIONAL", {}).get("notional", "0"))
    min_notional_units = decimal_units(notional_text, pd + qd)
    per = tick_units * lot_units
    percent = f.get("PERCENT_PRICE", {})
    return Instrument(
        symbol=symbol,
        index=index,
        tick_size=tick,
        step_size=step,
        price_decimals=pd,
        qty_decimals=qd,
        tick_units=tick_units,
        lot_units=lot_units,
        min_price_ticks=ticks(price.get("minPrice", "0")),
        max_price_ticks=ticks(price.get("maxPrice", "0")),
        min_qty_lots=max(1, lots(lot.get("minQty", step))),
        max_qty_lots=lots(lot.get("maxQty", "0")),
        market_max_qty_lots=lots(market.get("maxQty", "0")),
        min_notional=-(-min_notional_units // per),
        max_open_orders=int(str(f.get("MAX_NUM_ORDERS", {}).get("limit", 200))),
        percent_up=float(str(percent.get("multiplierUp", "0") or 0)),
        percent_down=float(str(percent.get("multiplierDown", "0") or 0)),
    )


def parse_instruments(info: dict[str, object], wanted: Sequence[str]) -> dict[str, Instrument]:
    """The `wanted` symbols of an exchangeInfo payload; unlisted or malformed ones are logged
    and left out. `index` follows the order of `wanted`."""
    out: dict[str, Instrument] = {}
    symbols = info.get("symbols")
    for entry in symbols if isinstance(symbols, list) else []:
        if not isinstance(entry, dict) or entry.get("symbol") not in wanted:
            continue
        try:
            out[str(entry["symbol"])] = _instrument(entry, list(wanted).index(entry["symbol"]))
        except (KeyError, ValueError, TypeError) as exc:
            log.error(
                "exchangeInfo entry unusable",
                extra={"symbol": entry.get("symbol"), "error": str(exc)},
            )
    return out


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One of the venue's rate limits: `limit` per `window_s` seconds."""

    kind: str  # REQUEST_WEIGHT or ORDERS
    window_s: int
    limit: int

    @property
    def header(self) -> str:
        """The response header that reports this limit's usage."""
        unit = {1: "S", 60: "M", 3600: "H", 86400: "D"}
        n, letter = self.window_s, "S"
        for size in (86400, 3600, 60):
            if self.window_s % size == 0:
                n, letter = self.window_s // size, unit[size]
                break
        prefix = "x-mbx-used-weight-" if self.kind == "REQUEST_WEIGHT" else "x-mbx-order-count-"
        return f"{prefix}{n}{letter.lower()}"


def parse_rate_limits(info: dict[str, object]) -> list[RateLimit]:
    """The `rateLimits` of an exchangeInfo payload (malformed entries are skipped)."""
    out: list[RateLimit] = []
    raw = info.get("rateLimits")
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            seconds = _INTERVAL_S[str(item["interval"])] * int(item["intervalNum"])
            out.append(RateLimit(str(item["rateLimitType"]), seconds, int(item["limit"])))
        except (KeyError, ValueError, TypeError):
            continue
    return out
