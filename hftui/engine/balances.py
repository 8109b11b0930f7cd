"""The live account's wallet balances, per asset, as the venue states them.

Balances are never computed here: the venue is the only authority on a wallet (fees,
funding, realized P&L and transfers all move it, some of them outside this engine). They come
from the venue's balance list at start (`GET /fapi/v2/balance`), from every `ACCOUNT_UPDATE`
on the user-data stream (its `B` rows: wallet and cross-wallet balance), and from
reconciliation, which compares them with a fresh read and takes the venue's on a mismatch.
Decimals, not floats: a wallet is compared to the last digit the venue gives.

Owns: the balances and when each was last stated. Execution feeds it; the publisher reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["AssetBalance", "Balances", "parse_balance_rows"]


@dataclass(frozen=True, slots=True)
class AssetBalance:
    wallet: Decimal
    cross_wallet: Decimal
    available: Decimal | None  # only the REST list states it; None until read
    updated_ms: int  # the venue's time of the figure (event time or updateTime)


def _amount(value: object) -> Decimal:
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise InvalidOperation(value)
    return amount


def parse_balance_rows(rows: Iterable[object]) -> dict[str, AssetBalance]:
    """The venue's `GET /fapi/v2/balance` rows by asset. Unreadable rows are left out.

    Raises nothing: a malformed row is skipped (the caller logs what it expected).
    """
    out: dict[str, AssetBalance] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        try:
            asset = str(row["asset"])
            out[asset] = AssetBalance(
                _amount(row["balance"]),
                _amount(row.get("crossWalletBalance", row["balance"])),
                _amount(row["availableBalance"]),
                int(str(row.get("updateTime", 0))),
            )
        except (KeyError, ValueError, InvalidOperation):
            continue
    return out


class Balances:
    def __init__(self) -> None:
        self._assets: dict[str, AssetBalance] = {}

    def get(self, asset: str) -> AssetBalance | None:
        return self._assets.get(asset)

    def wallets(self) -> dict[str, Decimal]:
        return {asset: b.wallet for asset, b in self._assets.items()}

    def take(self, venue: Mapping[str, AssetBalance]) -> None:
        """The venue's list as read by REST: it replaces what is known of those assets."""
        self._assets.update(venue)

    def on_stream(self, rows: Iterable[object], event_ms: int) -> int:
        """The `B` rows of an ACCOUNT_UPDATE at `event_ms`; returns how many were taken.

        A row older than the figure already held (a REST read that overtook the event) is
        ignored; an unreadable row is skipped.
        """
        taken = 0
        for row in rows:
            if not isinstance(row, dict):
                continue
            try:
                asset = str(row["a"])
                wallet = _amount(row["wb"])
                cross = _amount(row.get("cw", row["wb"]))
            except (KeyError, ValueError, InvalidOperation):
                continue
            held = self._assets.get(asset)
            if held is not None and event_ms < held.updated_ms:
                continue
            available = held.available if held is not None else None
            self._assets[asset] = AssetBalance(wallet, cross, available, event_ms)
            taken += 1
        return taken

    def differing(self, venue: Mapping[str, AssetBalance]) -> dict[str, Decimal]:
        """The assets whose wallet here is not the venue's, with the venue's wallet."""
        return {
            asset: b.wallet
            for asset, b in venue.items()
            if (held := self._assets.get(asset)) is None or held.wallet != b.wallet
        }
