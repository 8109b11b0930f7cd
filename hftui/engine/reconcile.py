"""Reconciliation: the engine's live orders, positions and balances checked against the venue's.

Runs every `[live] reconcile_interval_s` and after each user-data stream reconnect, while a
signed venue client exists. The user-data stream is how the engine learns of changes; this
is how it finds the ones the stream lost (a third-party cancel, a fill during a reconnect, a
socket that stayed up while its events stopped).

What the venue says about orders is a fact and is always applied: an order the venue ended
is ended here too, and trades the stream never delivered are taken from the venue's own
trade list (`userTrades`) and applied by trade id, never synthesized from totals. Every
mismatch is an alert that shows both sides, and an audit row. Then `[live] on_mismatch`
decides: `correct` takes the venue's position figures and trading goes on; `halt` also takes
them (so every screen shows the truth) and pulls the kill switch. A mismatch means the stream
lost events, so it is rebuilt with a new listen key as well.

Owns: when the last check ran and what it found. Order state stays execution's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from hftui.config import LiveSettings
from hftui.engine.balances import AssetBalance, parse_balance_rows
from hftui.engine.binance.rest import VenueError
from hftui.engine.execution import Execution
from hftui.engine.intents import ClientId
from hftui.engine.journal import Journal
from hftui.protocol import AlertRaised, Mode

__all__ = ["Mismatch", "Reconciler"]

log = logging.getLogger(__name__)

_V = TypeVar("_V")
_T = TypeVar("_T")

# An order changed this recently may have an event in flight: judged at the next check.
_GRACE_MS: Final = 2_000
# A position that differs is read again after this long before it counts (a fill's event
# can trail the venue's position by a moment).
_CONFIRM_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: str  # "order", "fills", "unknown_order", "position", "balance"
    symbol: str  # the asset, for a balance
    engine: str  # what the engine believed
    venue: str  # what the venue says

    def text(self) -> str:
        return f"{self.symbol} {self.kind}: engine {self.engine}, venue {self.venue}"


@dataclass(slots=True)
class Reconciler:
    execution: Execution
    settings: LiveSettings
    halt: Callable[[str], Awaitable[object]]  # the kill switch, with a reason
    journal: Journal | None = None
    clock_ms: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)
    runs: int = 0
    mismatches_total: int = 0
    last_run_ns: int = 0  # wall clock of the last completed check; 0 never
    last_found: tuple[Mismatch, ...] = ()
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Symbols with an order still settling in this check (ended at the venue and not here
    # yet, or filled beyond the trades taken): their positions are judged at the next one.
    _settling: set[str] = field(default_factory=set)

    def after_reconnect(self) -> None:
        """The user-data stream came back: check at once (events may have been lost)."""
        self._wake.set()

    async def run(self) -> None:
        """Check at once, then periodically (and when woken) until cancelled."""
        self._wake.set()
        while True:
            interval = self.settings.reconcile_interval_s  # a config reload may change it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval or None)
            self._wake.clear()
            if self.execution.client is None:
                continue
            try:
                await self.once()
            except VenueError as exc:  # the venue is down: the next check tries again
                log.warning("reconciliation failed", extra={"error": str(exc)})

    async def once(self) -> list[Mismatch]:
        """One check; returns the mismatches found (and already acted on).

        Raises:
            VenueError: the venue did not answer a query the check needs.
        """
        async with self._lock:
            self._settling = set()
            found = await self._orders()
            found += await self._missing_fills()
            # An order whose fills are not all taken yet explains a position that differs
            # by them; correcting it now would count those fills twice once they come.
            self._settling |= {o.intent.symbol for o in self.execution.live_orders_missing_fills()}
            found += await self._positions()
            found += await self._balances()
            self.runs += 1
            self.last_run_ns = time.time_ns()
            self.last_found = tuple(found)
        if found:
            await self._act(found)
        return found

    # ---- orders ---------------------------------------------------------------------------

    async def _orders(self) -> list[Mismatch]:
        ex, client = self.execution, self.execution.client
        if client is None:
            return []
        venue = await ex.venue_open_orders(list(ex.instruments))
        if venue is None:
            raise VenueError("open orders could not be read")
        found: list[Mismatch] = []
        listed = {str(row.get("clientOrderId", "")): row for row in venue}
        now_ms = self.clock_ms()
        for order in ex.live_open_orders():
            cid, symbol = order.client_id, order.intent.symbol
            row = listed.get(cid)
            if row is None:
                # Open here, not there: ended behind our back, or an event we never got.
                self._settling.add(symbol)
                if now_ms - order.last_update_ms < _GRACE_MS:
                    continue
                try:
                    row = await client.query_order(symbol, cid)
                except VenueError as exc:
                    if exc.code != -2013:  # "Order does not exist."
                        raise
                    found.append(Mismatch("unknown_order", symbol, f"{cid} open", "no order"))
                    ex.apply_venue_order(
                        {"clientOrderId": cid, "symbol": symbol, "status": "REJECTED"}
                    )
                    continue
            found += await self._settle(order.client_id, symbol, row, listed_open=cid in listed)
        for listed_cid, row in listed.items():
            symbol, known = str(row.get("symbol")), ex.tracker.get(ClientId(listed_cid))
            if known is None:
                if ex.adopt(row, "manual") is not None:  # managed (and cancellable) from now
                    found.append(
                        Mismatch("order", symbol, "no order", f"{listed_cid} open (adopted)")
                    )
            elif not known.open and self.clock_ms() - known.last_update_ms >= _GRACE_MS:
                # Ended here but still working there: nobody would manage it. Cancel it.
                found.append(Mismatch("order", symbol, f"{listed_cid} {known.status.name}", "open"))
                with contextlib.suppress(VenueError):
                    await client.cancel_order(symbol, listed_cid)
        return found

    async def _settle(
        self, cid: ClientId, symbol: str, row: dict[str, object], listed_open: bool
    ) -> list[Mismatch]:
        ex, client = self.execution, self.execution.client
        order = ex.tracker.get(cid)
        if order is None or client is None:
            return []
        inst = ex.instruments[symbol]
        found: list[Mismatch] = []
        try:
            venue_filled = inst.qty_lots(str(row.get("executedQty", "0")))
            updated = int(str(row.get("updateTime", 0)))
        except ValueError:
            log.warning("unreadable venue order", extra={"client_id": cid})
            return []
        behind = venue_filled > order.filled and self.clock_ms() - updated >= _GRACE_MS
        if not listed_open:
            before = order.status.name
            ex.apply_venue_order(row)
            status = str(row.get("status", "")) or "unknown"
            found.append(Mismatch("order", symbol, f"{cid} {before}", status))
        elif behind:
            ex.apply_venue_order(row)  # its fills follow from the venue's trade list
        return found

    async def _missing_fills(self) -> list[Mismatch]:
        # Orders whose filled total (from REST answers or the step above) is ahead of the
        # fills that reached us: take the venue's trade records of each, by trade id.
        ex, client = self.execution, self.execution.client
        found: list[Mismatch] = []
        for order in ex.live_orders_missing_fills():
            cid, symbol = order.client_id, order.intent.symbol
            if client is None or self.clock_ms() - order.last_update_ms < _GRACE_MS:
                continue
            rows = await client.request(
                "GET",
                "/fapi/v1/userTrades",
                # The most a request answers (the default is 500): an order that swept the
                # book can have hundreds of trades.
                {"symbol": symbol, "orderId": str(order.venue_order_id), "limit": "1000"},
                signed=True,
                weight=5,
            )
            inst = ex.instruments[symbol]
            had = f"{cid} fills for {inst.format_qty(order.traded)}"
            new = ex.apply_venue_trades(cid, rows if isinstance(rows, list) else [])
            there = f"filled {inst.format_qty(order.filled)} ({new} trade(s) taken)"
            found.append(Mismatch("fills", symbol, had, there))
        return found

    # ---- positions ------------------------------------------------------------------------

    async def _venue_positions(self) -> dict[str, tuple[int, float]]:
        ex, client = self.execution, self.execution.client
        if client is None:
            return {}
        positions: dict[str, tuple[int, float]] = {}
        for row in await client.position_risk():
            inst = ex.instruments.get(str(row.get("symbol")))
            if inst is None:
                continue
            try:
                amount = str(row.get("positionAmt", "0"))
                lots = inst.qty_lots(amount.lstrip("-"))
                entry = inst.price_units_of(str(row.get("entryPrice", "0"))) / inst.tick_units
            except ValueError:
                log.warning("unreadable venue position", extra={"symbol": inst.symbol})
                continue
            positions[inst.symbol] = (-lots if amount.startswith("-") else lots, entry)
        return positions

    def _differing(self, venue: dict[str, tuple[int, float]]) -> dict[str, int]:
        book, settling = self.execution.account.book, self._settling
        return {
            s: lots
            for s, (lots, _) in venue.items()
            if s not in settling and book(Mode.LIVE, s).lots != lots
        }

    async def _positions(self) -> list[Mismatch]:
        ex = self.execution
        venue, differing, _ = await _confirmed(self._venue_positions, self._differing)
        found = []
        for symbol, lots in differing.items():
            inst = ex.instruments[symbol]
            mine = ex.account.book(Mode.LIVE, symbol).lots
            found.append(
                Mismatch(
                    "position",
                    symbol,
                    _signed(inst.format_qty, mine),
                    _signed(inst.format_qty, lots),
                )
            )
            ex.correct_position(symbol, lots, venue[symbol][1])
        return found

    # ---- balances -------------------------------------------------------------------------

    async def _venue_balances(self) -> dict[str, AssetBalance]:
        client = self.execution.client
        return parse_balance_rows(await client.balances()) if client is not None else {}

    async def _balances(self) -> list[Mismatch]:
        # The wallet moves with every fill's fee and realized P&L, and its ACCOUNT_UPDATE can
        # trail the venue's list as a fill's event trails the venue's position.
        balances = self.execution.account.balances
        venue, differing, moving = await _confirmed(self._venue_balances, balances.differing)
        found = []
        for asset, wallet in differing.items():
            held = balances.get(asset)
            mine = f"{held.wallet}" if held is not None else "none"
            found.append(Mismatch("balance", asset, mine, f"{wallet}"))
        # The venue's figures, available balance included, except those still moving: taken
        # now, a wallet whose update was lost would never be seen to differ.
        balances.take({a: b for a, b in venue.items() if a not in moving})
        self.execution.version += 1
        return found

    # ---- acting ---------------------------------------------------------------------------

    async def _act(self, found: list[Mismatch]) -> None:
        self.mismatches_total += len(found)
        halt = self.settings.on_mismatch == "halt"
        verdict = "halting" if halt else "venue state taken"
        for mismatch in found:
            text = f"reconcile: {mismatch.text()} ({verdict})"
            log.warning(text)
            if self.journal is not None:
                self.journal.audit("reconcile", text)
            self.execution.publish(AlertRaised(logging.WARNING, text[:120]))
        stream = self.execution.user_stream
        if stream is not None:
            await stream.rebuild()
        if halt:
            await self.halt(f"reconciliation: {len(found)} mismatch(es) with the venue")


async def _confirmed(
    read: Callable[[], Awaitable[_V]], differing: Callable[[_V], dict[str, _T]]
) -> tuple[_V, dict[str, _T], set[str]]:
    """The venue's figures; those that differ from ours in two reads `_CONFIRM_S` apart with
    the same venue value (an event in flight can make one read differ for a moment); and
    those still moving, to be judged at the next check (so not to be taken from it now)."""
    venue = await read()
    first = differing(venue)
    if not first:
        return venue, {}, set()
    await asyncio.sleep(_CONFIRM_S)
    venue = await read()
    second = differing(venue)
    confirmed = {k: v for k, v in second.items() if first.get(k) == v}
    return venue, confirmed, set(second) - set(confirmed)


def _signed(fmt: Callable[[int], str], lots: int) -> str:
    return fmt(lots) if lots >= 0 else "-" + fmt(-lots)
