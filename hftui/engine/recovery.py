"""Crash recovery: what the journal knew, checked against the venue, at engine start.

Owns nothing after it ran: it reads the journal's state (orders it had open, the last trade
id per symbol, venue order ids), asks the venue (open orders, each journal-open order that
is no longer open, trades since the last journaled one, positions), and hands the answers to
execution (orders still open are adopted and managed again; orders that ended while the
engine was down take their venue end state) and to the journal (fills that happened while
down, a position snapshot per symbol). Fills come only from the venue's trade list: nothing
is ever synthesized from totals. Paper orders die with the process and are journaled as
canceled. The trader gets one alert line saying what was recovered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from hftui.engine.binance.client import Credentials
from hftui.engine.binance.rest import VenueError
from hftui.engine.execution import Execution
from hftui.engine.journal import Journal
from hftui.protocol import AlertRaised, Mode, OrderStatus

__all__ = ["RecoveryReport", "recover"]

log = logging.getLogger(__name__)

_UNKNOWN_ORDER: Final = -2013


@dataclass(slots=True)
class RecoveryReport:
    still_open: int = 0  # venue orders adopted (managed again)
    not_journaled: int = 0  # of those, orders the journal had no row for (crash before commit)
    ended_while_down: int = 0
    unknown_at_venue: int = 0  # journal-open orders the venue never had
    fills_while_down: int = 0
    paper_lost: int = 0
    checked: bool = False  # the venue was asked

    def text(self) -> str:
        parts = [
            f"{self.still_open} order(s) still open",
            f"{self.fills_while_down} fill(s) while down",
        ]
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


async def _fills_while_down(
    execution: Execution,
    journal: Journal,
    venue_ids: dict[int, str],
    strategies: Mapping[str, str],
    report: RecoveryReport,
) -> None:
    # Trades after the last journaled one (or, with none, since the first live order).
    client = execution.client
    if client is None:
        return
    state = journal.state
    for symbol, inst in execution.instruments.items():
        last = state.last_trade_ids.get(symbol, 0)
        if not last and not state.first_live_ms:
            continue
        # From the last journaled id itself: a self-trade's other leg may share it.
        sides = state.last_trade_sides.get(symbol, set())
        params = {"symbol": symbol, "limit": "1000"}
        params |= {"fromId": str(last)} if last else {"startTime": str(state.first_live_ms)}
        try:
            rows = await client.request("GET", "/fapi/v1/userTrades", params, signed=True, weight=5)
        except VenueError as exc:
            log.warning("recovery: trades query failed", extra={"error": str(exc)})
            continue
        for t in rows if isinstance(rows, list) else []:
            trade_id, order_id = t.get("id"), t.get("orderId")
            if not isinstance(trade_id, int) or trade_id < last:
                continue
            if trade_id == last and str(t.get("side")) in sides:
                continue
            cid = venue_ids.get(order_id, "") if isinstance(order_id, int) else ""
            try:
                qty = inst.format_qty(inst.qty_lots(str(t["qty"])))
                price = inst.format_price(inst.price_ticks(str(t["price"])))
                fee = float(str(t.get("commission", "0")))
            except (KeyError, ValueError):
                log.warning("recovery: unreadable trade", extra={"trade_id": trade_id})
                continue
            journal.fill(
                Mode.LIVE.label, symbol, trade_id, cid, int(order_id or 0), str(t.get("side")),
                qty, price, fee, bool(t.get("maker")), strategies.get(cid, ""),
                int(str(t.get("time", 0))), "recovered",
            )  # fmt: skip
            report.fills_while_down += 1


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
            await _fills_while_down(execution, journal, venue_ids, strategies, report)
            await execution.seed_live_positions()
            _snapshot_positions(execution)
    elif live:
        report.still_open = len(live)
    text = report.text()
    journal.audit("recovery", text)
    quiet = report.checked and not (
        report.still_open or report.fills_while_down or report.ended_while_down
    )
    if not quiet or report.paper_lost or report.unknown_at_venue:
        level = logging.WARNING if report.checked else logging.ERROR
        log.log(level, text)
        execution.publish(AlertRaised(level, text[:120]))
    return report
