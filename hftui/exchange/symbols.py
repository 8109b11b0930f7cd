"""Contracts the local exchange lists, with Binance USD-M's exchangeInfo fields and filters.

Prices and quantities are integers on the wire-format grid: a price is a count of ticks, a
quantity a count of lots. `format_price`/`format_qty` write them as the venue does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["SYMBOLS", "SymbolSpec", "exchange_info", "spec_for"]

_PERPETUAL_DELIVERY: Final = 4133404800000  # Binance's "year 2100" delivery date of perpetuals


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    base: str
    tick_size: str  # as written in exchangeInfo; its decimals are the wire decimals
    step_size: str
    start_price: str
    min_qty: str
    max_qty: str
    market_max_qty: str
    min_notional: str
    min_price: str
    max_price: str
    typical_lots: int  # median size of a synthetic order, in lots
    onboard_ms: int = 1569398400000

    @property
    def price_decimals(self) -> int:
        return len(self.tick_size.split(".")[1]) if "." in self.tick_size else 0

    @property
    def qty_decimals(self) -> int:
        return len(self.step_size.split(".")[1]) if "." in self.step_size else 0

    @property
    def tick_units(self) -> int:
        return int(self.tick_size.replace(".", ""))

    @property
    def lot_units(self) -> int:
        return int(self.step_size.replace(".", ""))

    def to_ticks(self, price: str) -> int:
        units = _units(price, self.price_decimals)
        if units % self.tick_units:
            raise ValueError(f"price {price} is off the tick {self.tick_size}")
        return units // self.tick_units

    def to_lots(self, qty: str) -> int:
        units = _units(qty, self.qty_decimals)
        if units % self.lot_units:
            raise ValueError(f"quantity {qty} is off the step {self.step_size}")
        return units // self.lot_units

    def format_price(self, ticks: int) -> str:
        return _format(ticks * self.tick_units, self.price_decimals)

    def format_qty(self, lots: int) -> str:
        return _format(lots * self.lot_units, self.qty_decimals)

    def info(self) -> dict[str, object]:
        """This symbol's exchangeInfo entry (never `underlying` or `tradability`: clients
        take those for options and tokenized stocks)."""
        return {
            "symbol": self.symbol,
            "pair": self.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": _PERPETUAL_DELIVERY,
            "onboardDate": self.onboard_ms,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": self.base,
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": self.price_decimals,
            "quantityPrecision": self.qty_decimals,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": self.min_price,
                    "maxPrice": self.max_price,
                    "tickSize": self.tick_size,
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": self.min_qty,
                    "maxQty": self.max_qty,
                    "stepSize": self.step_size,
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": self.min_qty,
                    "maxQty": self.market_max_qty,
                    "stepSize": self.step_size,
                },
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": self.min_notional},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }


def _units(text: str, decimals: int) -> int:
    head, _, frac = text.partition(".")
    if not head.isdigit() or (frac and not frac.isdigit()) or not text.isascii():
        raise ValueError(f"malformed decimal {text!r}")
    if len(frac) > decimals:
        if frac[decimals:].strip("0"):
            raise ValueError(f"{text} has more than {decimals} decimals")
        frac = frac[:decimals]
    return int(head + frac.ljust(decimals, "0"))


def _format(units: int, decimals: int) -> str:
    if decimals == 0:
        return str(units)
    digits = str(units).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}"


SYMBOLS: Final[dict[str, SymbolSpec]] = {
    s.symbol: s
    for s in (
        SymbolSpec(
            "BTCUSDT",
            "BTC",
            "0.10",
            "0.001",
            "64000.00",
            "0.001",
            "1000",
            "120",
            "100",
            "556.80",
            "4529764",
            40,
        ),
        SymbolSpec(
            "ETHUSDT",
            "ETH",
            "0.01",
            "0.001",
            "3200.00",
            "0.001",
            "10000",
            "2000",
            "20",
            "39.86",
            "306177",
            500,
        ),
        SymbolSpec(
            "SOLUSDT",
            "SOL",
            "0.0100",
            "1",
            "150.0000",
            "1",
            "1000000",
            "100000",
            "5",
            "0.4200",
            "6857",
            20,
        ),
        SymbolSpec(
            "BNBUSDT",
            "BNB",
            "0.010",
            "0.01",
            "600.000",
            "0.01",
            "100000",
            "2000",
            "5",
            "6.600",
            "100000",
            200,
        ),
    )
}


def spec_for(symbol: str) -> SymbolSpec:
    """The spec of a listed symbol; ValueError naming the known ones otherwise."""
    try:
        return SYMBOLS[symbol]
    except KeyError:
        raise ValueError(
            f"symbol {symbol!r} is not listed by the local exchange; it lists " + ", ".join(SYMBOLS)
        ) from None


def exchange_info(
    symbols: tuple[str, ...], server_time_ms: int, specs: Mapping[str, SymbolSpec] | None = None
) -> dict[str, object]:
    """The full `GET /fapi/v1/exchangeInfo` payload; `specs` are the filters in force when a
    running venue changed some (the listed ones otherwise)."""
    specs = specs or SYMBOLS
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}],
        "symbols": [specs[s].info() for s in symbols],
    }
