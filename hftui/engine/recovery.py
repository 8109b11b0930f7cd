"""Crash recovery: what the journal knew, checked against the venue, at engine start.

Owns nothing after it ran: it reads the journal's state (orders it had open, the last trade
id per symbol, venue order ids), asks the venue (open orders, each journal-open order that
is no longer open, trades since the last journaled one, the own trades of each order the
journal may lack fills of, positions), and hands the answers to
execution (orders still open are adopted and managed again; orders that ended while the
engine was down take their venue end state) and to the journal (fills that happened while
down, a position snapshot per symbol). Fills come only from the venue's trade list: nothing
is ever synthesized from totals. Paper orders die with the process and are journaled as
canceled. The trader gets one alert line saying what was recovered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from hftui.engine.binance.client import Credentials
from hftui.engine.binance.rest import VenueError
from hftui.engine.execution import Execution
from hftui.engine.instrument import Instrument
from hftui.engine.journal import Journal, StrategyFill
from hftui.protocol import AlertRaised, Mode, OrderStatus

__all__ = ["RecoveryReport", "recover", "trades_since"]

log = logging.getLogger(__name__)

_UNKNOWN_ORDER: Final = -2013
_PAGE: Final = 1000  # userTrades rows per request, the venue's most


@dataclass(slots=True)
class RecoveryReport:
    still_open: int = 0  # venue orders adopted (managed again)
    not_journaled: int = 0  # of those, orders the journal had no row for (crash before commit)
    ended_while_down: int = 0
    unknown_at_venue: int = 0  # journal-open orders the venue never had
    fills_while_down: int = 0
    fills_missed: int = 0  # fills before the crash whose events never reached the journal
    paper_lost: int = 0
    checked: bool = False  # the venue was asked

    def text(self) -> str:
        parts = [
            f"{self.still_open} order(s) still open",
            f"{self.fills_while_down} fill(s) while down",
        ]
        if self.fills_missed:
            parts.append(f"{self.fills_missed} fill(s) the journal had missed")
        if self.ended_while_down:
            parts.append(f"{self.ended_while_down} ended while down")
        if self.not_journaled:
            parts.append(f"{self.not_journaled} not journaled before the crash")
        if self.unknown_at_venue:
            parts.append(f"{self.unknown_at_venue} never reached the venue")
        if self.paper_lost:
            parts.append(f"{self.paper_lost} paper order(s) ended with the engine")
        if not self.checked:
            parts.append("venue not checked")
        return "recovered: " + ", ".join(parts)


def _end_paper(journal: Journal, rows: list[dict[str, object]], report: RecoveryReport) -> None:
    now = time.time_ns()
    for row in rows:
        if row["mode"] != Mode.PAPER.label:
            continue
        cid, filled = str(row["client_id"]), str(row["filled"])
        reason = "paper order ended with the engine"
        status = OrderStatus.CANCELED.name
        journal.order_state(cid, status, filled, str(row["avg_price"]), reason, 0, now)
        journal.order_event(now, cid, "canceled", status, filled, reason)
        report.paper_lost += 1


async def _settle_ended(
    execution: Execution,
    journal: Journal,
    rows: Mapping[str, dict[str, object]],
    venue_ids: dict[int, str],
    report: RecoveryReport,
) -> None:
    # Journal-open live orders the venue no longer lists: ask how each one ended.
    client = execution.client
    if client is None:
        return
    for cid, row in rows.items():
        try:
            payload = await client.query_order(str(row["symbol"]), cid)
        except VenueError as exc:
            if exc.code != _UNKNOWN_ORDER:
                log.warning("recovery: order query failed", extra={"client_id": cid})
                continue
            now = time.time_ns()
            reason, status = "not known at the venue", OrderStatus.REJECTED.name
            journal.order_state(cid, status, str(row["filled"]), "", reason, 0, now)
            journal.order_event(now, cid, "rejected", status, str(row["filled"]), reason)
            report.unknown_at_venue += 1
            continue
        venue_id = payload.get("orderId")
        if isinstance(venue_id, int):
            venue_ids[venue_id] = cid
        if execution.adopt(payload, str(row["strategy"] or "manual")) is not None:
            report.ended_while_down += 1


Fetch = Callable[[dict[str, str]], Awaitable[object]]


async def trades_since(
    fetch: Fetch, symbol: str, last: int, sides: set[str], start_ms: int, page: int = _PAGE
) -> list[dict[str, object]]:
    """Every trade of `symbol` after the last journaled one, oldest first, read page by page
    with `fetch` (the venue's `userTrades`): from trade id `last` itself, whose `sides`
    already journaled are left out (a self-trade's two legs share one id), or, with no
    trade journaled yet, since `start_ms`. A row without an int id is left out. `page` (at
    least 2) is the rows asked for per request."""
    page = max(page, 2)
    found: list[dict[str, object]] = []
    seen = {(last, side) for side in sides}
    from_id = last
    while True:
        params = {"symbol": symbol, "limit": str(page)}
        params |= {"fromId": str(from_id)} if from_id else {"startTime": str(start_ms)}
        rows = await fetch(params)
        if not isinstance(rows, list):
            return found
        top = from_id
        for t in rows:
            trade_id = t.get("id") if isinstance(t, dict) else None
            if not isinstance(trade_id, int) or trade_id < from_id:
                continue
            top = max(top, trade_id)
            key = (trade_id, str(t.get("side")))
            if key not in seen:
                seen.add(key)
                found.append(t)
        if len(rows) < page:
            return found
        # A full page may have more after it: go on from its newest id, inclusive (a
        # self-trade's second leg may start the next page), or past it if the whole page was
        # that id (its legs, at most two, all in this page).
        from_id = top if top > from_id else from_id + 1


def _journal_trade(
    execution: Execution,
    journal: Journal,
    inst: Instrument,
    t: Mapping[str, object],
    cid: str,
    strategy: str,
) -> bool:
    """One row of the venue's trade list, journaled as a recovered live fill and, if it was
    a strategy's, added to that strategy's own position now (the positions rebuilt from the
    journal at start did not have it); False (and logged) if it cannot be read."""
    trade_id, order_id = t.get("id"), t.get("orderId")
    try:
        tid = int(str(trade_id))
        lots = inst.qty_lots(str(t["qty"]))
        qty = inst.format_qty(lots)
        price = inst.format_price(inst.price_ticks(str(t["price"])))
        fee = float(str(t.get("commission", "0")))
        time_ms = int(str(t.get("time", 0)))
    except (KeyError, ValueError):
        log.warning("recovery: unreadable trade", extra={"trade_id": trade_id})
        return False
    side = str(t.get("side"))
    journal.fill(
        Mode.LIVE.label, inst.symbol, tid, cid,
        order_id if isinstance(order_id, int) else 0, side, qty, price, fee,
        bool(t.get("maker")), strategy, time_ms, "recovered",
    )  # fmt: skip
    # An adopted order's fill may come on the stream (which recovery connects first) before
    # this query answered, or after it: whichever comes second is not counted again (the
    # journal keeps one row of it either way).
    new = not cid or execution.tracker.note_trade(cid, tid, lots, fee)
    if strategy not in ("", "manual") and new:
        fill = StrategyFill(Mode.LIVE.label, strategy, inst.symbol, side, qty, price, fee, time_ms)
        execution.resume_strategy_positions((fill,))
    return True


async def _fills_while_down(
    execution: Execution,
    journal: Journal,
    venue_ids: dict[int, str],
    strategies: Mapping[str, str],
    report: RecoveryReport,
) -> set[tuple[int, str]]:
    # Trades after the last journaled one (or, with none, since the first live order).
    # Returns the (trade id, side) of those journaled.
    taken: set[tuple[int, str]] = set()
    client = execution.client
    if client is None:
        return taken
    state = journal.state

    async def fetch(params: dict[str, str]) -> object:
        return await client.request("GET", "/fapi/v1/userTrades", params, signed=True, weight=5)

    for symbol, inst in execution.instruments.items():
        last = state.last_trade_ids.get(symbol, 0)
        if not last and not state.first_live_ms:
            continue
        sides = state.last_trade_sides.get(symbol, set())
        try:
            rows = await trades_since(fetch, symbol, last, sides, state.first_live_ms)
        except VenueError as exc:
            log.warning("recovery: trades query failed", extra={"error": str(exc)})
            continue
        for t in rows:
            order_id = t.get("orderId")
            cid = venue_ids.get(order_id, "") if isinstance(order_id, int) else ""
            if _journal_trade(execution, journal, inst, t, cid, strategies.get(cid, "")):
                taken.add((int(str(t["id"])), str(t.get("side"))))
                report.fills_while_down += 1
    return taken


async def _fill_gaps(
    execution: Execution, journal: Journal, taken: set[tuple[int, str]], report: RecoveryReport
) -> None:
    # Orders the journal may lack fills of (open when the engine stopped, or filled beyond
    # the fills it journaled: their events were lost, in a stream stall say, before the
    # crash). The trades after the last journaled one do not hold those that came before
    # it: each such order's own trades are asked for.
    client = execution.client
    for gap in journal.state.fill_gaps:
        inst = execution.instruments.get(gap.symbol)
        if client is None or inst is None:
            continue
        params = {"symbol": gap.symbol, "orderId": str(gap.venue_order_id), "limit": "1000"}
        try:
            rows = await client.request("GET", "/fapi/v1/userTrades", params, signed=True, weight=5)
        except VenueError as exc:
            log.warning("recovery: order trades query failed", extra={"error": str(exc)})
            continue
        for t in rows if isinstance(rows, list) else []:
            trade_id = t.get("id") if isinstance(t, dict) else None
            if not isinstance(trade_id, int) or t.get("orderId") != gap.venue_order_id:
                continue
            key = (trade_id, str(t.get("side")))
            if key in gap.journaled or key in taken:
                continue
            if _journal_trade(execution, journal, inst, t, gap.client_id, gap.strategy):
                taken.add(key)
                report.fills_missed += 1


def _snapshot_positions(execution: Execution) -> None:
    for symbol in execution.instruments:
        execution.journal_position(Mode.LIVE, symbol, "venue")


async def recover(
    execution: Execution, journal: Journal, credentials: Credentials | None
) -> RecoveryReport:
    """Reconcile the journal with the venue after a start; see the module docstring.

    Args:
        execution: the engine's execution, not yet trading.
        journal: the open journal (its `state` is what it knew at open).
        credentials: the venue keys, or None (then only the journal is tidied).

    Returns:
        What was recovered; also published as an alert and audited.
    """
    state = journal.state
    report = RecoveryReport()
    _end_paper(journal, state.open_orders, report)
    live = {str(r["client_id"]): r for r in state.open_orders if r["mode"] == Mode.LIVE.label}
    strategies = {cid: str(r["strategy"] or "") for cid, r in live.items()}
    if credentials is not None:
        try:
            await execution.connect_live(credentials)
            venue = await execution.venue_open_orders(list(execution.instruments))
        except VenueError as exc:
            log.warning("recovery: venue unreachable", extra={"error": str(exc)})
            venue = None
        if venue is not None:
            report.checked = True
            venue_ids = dict(state.venue_ids)
            for row in venue:
                cid = str(row.get("clientOrderId", ""))
                venue_id = row.get("orderId")
                if isinstance(venue_id, int):
                    venue_ids[venue_id] = cid
                if execution.adopt(row, strategies.get(cid) or "manual") is not None:
                    report.still_open += 1
                    report.not_journaled += cid not in live
            listed = {str(row.get("clientOrderId", "")) for row in venue}
            ended = {cid: row for cid, row in live.items() if cid not in listed}
            await _settle_ended(execution, journal, ended, venue_ids, report)
            taken = await _fills_while_down(execution, journal, venue_ids, strategies, report)
            await _fill_gaps(execution, journal, taken, report)
            await execution.seed_live_positions()
            _snapshot_positions(execution)
    elif live:
        report.still_open = len(live)
    text = report.text()
    journal.audit("recovery", text)
    quiet = report.checked and not (
        report.still_open
        or report.fills_while_down
        or report.ended_while_down
        or report.fills_missed
    )
    if not quiet or report.paper_lost or report.unknown_at_venue:
        level = logging.WARNING if report.checked else logging.ERROR
        log.log(level, text)
        execution.publish(AlertRaised(level, text[:120]))
    return report
