"""Maintenance margin, margin calls and liquidation (cross margin, simplified).

Owns: which accounts have been warned. The rule, checked on every clock tick:

- maintenance margin = sum over positions of |notional at mark| x 0.4 % (one bracket);
- margin balance = wallet + unrealized P&L at mark;
- a `MARGIN_CALL` event is pushed once when the margin balance falls to twice the
  maintenance margin, and re-armed when it recovers;
- at or below the maintenance margin the account is liquidated: its open orders are
  canceled and every position is closed at the mark price against the venue's insurance
  fund (not through the book). A liquidation fee of 1.25 % of the notional is paid to the
  fund out of whatever margin remains, never more; if the loss exceeds the wallet, the
  wallet ends at zero and the fund covers the deficit.

Binance's engine is more elaborate (brackets, partial liquidation, ADL); this is the honest
minimum that makes a margin call and a liquidation observable end to end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from hftui.exchange.accounts import Account, Order, Trade, money, money_text
from hftui.exchange.trading import Trading

__all__ = ["LIQUIDATION_FEE", "MAINTENANCE_RATIO", "MarginMonitor"]

MAINTENANCE_RATIO: Final = Decimal("0.004")
LIQUIDATION_FEE: Final = Decimal("0.0125")
_CALL_AT: Final = Decimal(2)  # margin balance / maintenance margin that triggers a call


class MarginMonitor:
    """Watches every account's margin; warns, then liquidates."""

    def __init__(self, trading: Trading) -> None:
        self.trading = trading
        self._warned: set[str] = set()
        self.insurance_fund = Decimal(0)  # what liquidations cost beyond a wallet

    def figures(self, account: Account) -> tuple[Decimal, Decimal]:
        """(margin balance, maintenance margin) at the current marks."""
        unrealized = Decimal(0)
        maintenance = Decimal(0)
        for symbol, position in account.positions.items():
            if not position.amount:
                continue
            mark = self.trading.mark_price(self.trading.venue.symbols[symbol])
            unrealized += (mark - position.entry_price) * position.amount
            maintenance += abs(position.amount) * mark * MAINTENANCE_RATIO
        return account.wallet + unrealized, maintenance

    def check(self) -> None:
        for account in self.trading.accounts.values():
            balance, maintenance = self.figures(account)
            if not maintenance:
                self._warned.discard(account.api_key)
                continue
            if balance <= maintenance:
                self._liquidate(account)
                self._warned.discard(account.api_key)
            elif balance <= maintenance * _CALL_AT:
                if account.api_key not in self._warned:
                    self._warned.add(account.api_key)
                    self._margin_call(account, balance)
            else:
                self._warned.discard(account.api_key)

    def _margin_call(self, account: Account, balance: Decimal) -> None:
        now = self.trading.clock_ms()
        positions = []
        for symbol, position in account.positions.items():
            if not position.amount:
                continue
            mark = self.trading.mark_price(self.trading.venue.symbols[symbol])
            positions.append(
                {
                    "s": symbol,
                    "ps": "BOTH",
                    "pa": money_text(position.amount),
                    "mt": "CROSSED",
                    "iw": "0",
                    "mp": money_text(mark),
                    "up": money_text((mark - position.entry_price) * position.amount),
                    "mm": money_text(abs(position.amount) * mark * MAINTENANCE_RATIO),
                }
            )
        self.trading.publish_user(
            account, {"e": "MARGIN_CALL", "E": now, "cw": money_text(balance), "p": positions}
        )

    def _liquidate(self, account: Account) -> None:
        trading = self.trading
        for order in account.open_orders():
            trading.cancel(account, {"symbol": order.symbol, "orderId": str(order.order_id)})
        for symbol, position in list(account.positions.items()):
            if position.amount:
                self._close(account, symbol)

    def _close(self, account: Account, symbol: str) -> None:
        trading = self.trading
        venue = trading.venue.symbols[symbol]
        position = account.position(symbol)
        mark = trading.mark_price(venue)
        quantity = abs(position.amount)
        side = "SELL" if position.amount > 0 else "BUY"
        now = trading.clock_ms()
        realized = position.fill(-position.amount, mark)
        position.update_ms = now
        remaining = account.wallet + realized
        if remaining <= 0:
            self.insurance_fund += remaining  # bankrupt: the fund covers the deficit
            fee = Decimal(0)
            remaining = Decimal(0)
        else:
            fee = min(money(quantity * mark * LIQUIDATION_FEE), remaining)
            self.insurance_fund += fee
        account.wallet = remaining - fee
        account.update_ms = now
        order_id = trading.next_order_id()
        order = Order(
            order_id,
            f"autoclose-{now}",
            symbol,
            side,
            "LIQUIDATION",
            "IOC",
            mark,
            quantity,
            True,
            now,
            status="FILLED",
            executed_qty=quantity,
            cum_quote=mark * quantity,
            update_ms=now,
        )
        account.orders[order_id] = order
        trade_id = trading.next_trade_id()
        account.trades.append(
            Trade(trade_id, order_id, symbol, side, mark, quantity, fee, realized, False, now)
        )
        trading.publish_order_event(
            account,
            order,
            "CALCULATED",
            last_qty=quantity,
            last_price=mark,
            fee=fee,
            trade_id=trade_id,
            realized=realized,
        )
        trading.publish_account_update(account, symbol)
