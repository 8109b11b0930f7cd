"""Market maker: two-sided post-only quotes around an inventory-skewed reservation price, in
the manner of Avellaneda and Stoikov ("High-frequency trading in a limit order book", 2008).

All prices are in ticks and time in seconds. With mid price `s`, inventory `q` (this
strategy's position in clips of `qty`), volatility `sigma` (ticks per square-root second),
risk aversion `gamma` and horizon `T = horizon_s`:

    reservation price  r     = s - q * gamma * sigma**2 * T
    spread             delta = gamma * sigma**2 * T + (2 / gamma) * ln(1 + gamma / kappa)
    quotes             bid = floor(r - delta / 2),  ask = ceil(r + delta / 2)

A long inventory lowers both quotes (sell more readily, buy less), a short one raises them.
`kappa` is how fast the chance of a fill falls with distance from the mid (per tick): a
larger kappa, a tighter spread. The horizon is rolling (the classic model's `T - t` held at
`horizon_s`), as for a perpetual with no session end.

`sigma` starts at `sigma_ticks` and follows the market: every `vol_sample_ms` the squared mid
change per second enters an exponential average with half-life `vol_halflife_s`.

Quotes are post-only (GTX): a bid is kept below the best ask and an ask above the best bid,
so neither can take. The spread is at least `min_spread_ticks`. At `max_inventory` the side
that would add to it is not quoted (and its working quote is cancelled).

Requoting follows the book, within a rate limit: when a side's target price moves
`requote_ticks` or more from its working quote, that side is replaced (a side whose target
holds keeps its place in the queue); when the quotes are older than `max_quote_age_s`, both
are. Never sooner than `min_requote_ms` after the last requote. A fill requotes at
the next book update. In observe nothing rests, so the targets last shown count as the
working quotes: the "would send" intents appear at the requote pace, not on every update.

Parameters (`[strategies.params.market_maker]`):
    symbol: the symbol quoted ("ETHUSDT").
    qty, max_inventory: clip size and largest position, in base units ("0.010", "0.050").
    gamma, kappa, horizon_s: the model (0.1, 1.5, 5.0).
    sigma_ticks, vol_sample_ms, vol_halflife_s: volatility (3.0, 200, 30.0).
    min_spread_ticks, requote_ticks, min_requote_ms, max_quote_age_s: quoting (2, 2, 500, 30.0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hftui.strategy import Fill, OrderBook, Params, Side, Strategy, TimeInForce


@dataclass(frozen=True, slots=True)
class MarketMakerParams(Params):
    symbol: str = "ETHUSDT"
    qty: str = "0.010"
    max_inventory: str = "0.050"
    gamma: float = 0.1
    kappa: float = 1.5
    horizon_s: float = 5.0
    sigma_ticks: float = 3.0
    vol_sample_ms: int = 200
    vol_halflife_s: float = 30.0
    min_spread_ticks: int = 2
    requote_ticks: int = 2
    min_requote_ms: int = 500
    max_quote_age_s: float = 30.0

    def __post_init__(self) -> None:
        if self.gamma <= 0 or self.kappa <= 0 or self.horizon_s <= 0:
            raise ValueError("gamma, kappa and horizon_s must be positive")
        if self.min_spread_ticks < 1 or self.requote_ticks < 1:
            raise ValueError("min_spread_ticks and requote_ticks must be at least 1")


def quotes(
    mid: float,
    inventory: float,
    variance: float,
    gamma: float,
    kappa: float,
    horizon_s: float,
    min_spread: int,
) -> tuple[int, int]:
    """The model's bid and ask in ticks (before the post-only clamp against the touch)."""
    risk = gamma * variance * horizon_s
    reservation = mid - inventory * risk
    half = (risk + (2.0 / gamma) * math.log1p(gamma / kappa)) * 0.5
    bid = math.floor(reservation - half)
    ask = math.ceil(reservation + half)
    if ask - bid < min_spread:
        widen = min_spread - (ask - bid)
        bid -= widen // 2
        ask += widen - widen // 2
    return bid, ask


class MarketMaker(Strategy[MarketMakerParams]):
    params_type = MarketMakerParams
    timer_interval_s = 0.0

    def on_start(self) -> None:
        p = self.params
        self.symbol = p.symbol
        self.clip = self.ctx.lots(p.symbol, p.qty)
        self.max_inventory = self.ctx.lots(p.symbol, p.max_inventory)
        self.halflife_ns = p.vol_halflife_s * 1e9  # of the volatility average
        self.variance = p.sigma_ticks**2
        self.vol_sample_ns = p.vol_sample_ms * 1_000_000
        self.min_requote_ns = p.min_requote_ms * 1_000_000
        self.max_age_ns = int(p.max_quote_age_s * 1e9)
        self.last_mid = 0.0
        self.last_sample_ns = 0
        self.next_quote_ns = 0
        self.bid_id = ""
        self.ask_id = ""
        self.bid_px = -1  # the working (or, in observe, last shown) quote; -1: none
        self.ask_px = -1
        self.quoted_ns = 0
        self.requotes = 0

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        # The hot path: nearly every call ends at the rate limit, before any quote math.
        if symbol != self.symbol:
            return
        best_bid = book.best_bid()
        best_ask = book.best_ask()
        if best_bid < 0 or best_ask < 0:
            return
        mid = (best_bid + best_ask) * 0.5
        if now_ns - self.last_sample_ns >= self.vol_sample_ns:
            self._sample_volatility(mid, now_ns)
        if now_ns < self.next_quote_ns:
            return
        self._requote(symbol, best_bid, best_ask, mid, now_ns)

    def _requote(self, symbol: str, best_bid: int, best_ask: int, mid: float, now_ns: int) -> None:
        p = self.params
        position = self.ctx.position(symbol)
        clip = self.clip
        bid, ask = quotes(
            mid,
            position / clip,
            self.variance,
            p.gamma,
            p.kappa,
            p.horizon_s,
            p.min_spread_ticks,
        )
        if bid >= best_ask:  # post-only: never at or through the other side
            bid = best_ask - 1
        if ask <= best_bid:
            ask = best_bid + 1
        if position + clip > self.max_inventory:
            bid = -1  # at the limit: the side that would add to it is not quoted
        if position - clip < -self.max_inventory:
            ask = -1
        # A side moves when its target is requote_ticks away, goes or comes back, or when the
        # quotes are stale; a side whose price holds is left alone (its place in the queue).
        move = p.requote_ticks
        stale = now_ns - self.quoted_ns > self.max_age_ns
        bid_px, ask_px = self.bid_px, self.ask_px
        move_bid = stale or (bid != bid_px and (bid < 0 or bid_px < 0 or abs(bid - bid_px) >= move))
        move_ask = stale or (ask != ask_px and (ask < 0 or ask_px < 0 or abs(ask - ask_px) >= move))
        if not (move_bid or move_ask):
            return
        self.next_quote_ns = now_ns + self.min_requote_ns
        self.quoted_ns = now_ns
        self.requotes += 1
        if move_bid:
            self.bid_id = self._quote(Side.BUY, self.bid_id, bid)
            self.bid_px = bid
        if move_ask:
            self.ask_id = self._quote(Side.SELL, self.ask_id, ask)
            self.ask_px = ask

    def _sample_volatility(self, mid: float, now_ns: int) -> None:
        dt = now_ns - self.last_sample_ns
        if self.last_sample_ns and self.last_mid:
            step = mid - self.last_mid
            per_s = step * step * 1e9 / dt
            # Half-life in samples: weight = 1 - 2 ** (-dt / half-life).
            weight = 1.0 - 0.5 ** (dt / self.halflife_ns)
            self.variance += (per_s - self.variance) * weight
        self.last_mid = mid
        self.last_sample_ns = now_ns

    def _quote(self, side: Side, cid: str, price: int) -> str:
        # One side: cancel (price -1), move the working order, or place a new one.
        ctx = self.ctx
        working = bool(cid) and ctx.is_open(cid)
        if price < 0:
            if working:
                ctx.cancel(cid)
            return ""
        if working:
            return ctx.replace(cid, price)
        return ctx.place(self.symbol, side, self.clip, price, TimeInForce.GTX)

    def on_fill(self, fill: Fill) -> None:
        self.next_quote_ns = 0  # inventory changed: requote at the next book update
        self.quoted_ns = 0

    def on_stop(self) -> None:
        for cid in (self.bid_id, self.ask_id):
            if cid:
                self.ctx.cancel(cid)
