"""Venue URLs, stream names and request weights of Binance USD-M Futures."""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEPTH_SNAPSHOT_LIMIT",
    "VENUE_URLS",
    "depth_stream",
    "ws_base_from_http",
]

# (REST base, WebSocket base) per venue; `local` comes from the running exchange.
VENUE_URLS: Final[dict[str, tuple[str, str]]] = {
    "binance": ("https://fapi.binance.com", "wss://fstream.binance.com"),
    "binance-testnet": ("https://demo-fapi.binance.com", "wss://fstream.binancefuture.com"),
}

# limit=1000 costs 20 weight; the deepest snapshot makes the sync least likely to miss levels.
DEPTH_SNAPSHOT_LIMIT: Final = 1000


def depth_stream(symbol: str, speed: str) -> str:
    """Diff-depth stream name for a speed of "100ms", "250ms" (the default stream) or "500ms"."""
    base = f"{symbol.lower()}@depth"
    return base if speed == "250ms" else f"{base}@{speed}"


def ws_base_from_http(url: str) -> str:
    """The stream base served on the same port as a local REST url."""
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url
