"""The live wallet: taken from the venue's REST list and its stream updates, never computed."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from hftui.engine.balances import AssetBalance, Balances, parse_balance_rows

ROW = {
    "accountAlias": "x",
    "asset": "USDT",
    "balance": "10000.12345678",
    "crossWalletBalance": "10000.12345678",
    "availableBalance": "9500.5",
    "updateTime": 1_000,
}


def test_the_rest_list_is_read_to_the_last_digit() -> None:
    venue = parse_balance_rows([ROW, {"asset": "BNB", "balance": "nope"}, "junk", None])
    assert venue == {
        "USDT": AssetBalance(
            Decimal("10000.12345678"), Decimal("10000.12345678"), Decimal("9500.5"), 1_000
        )
    }


def test_non_finite_and_missing_figures_are_left_out() -> None:
    rows = [ROW | {"balance": "nan"}, ROW | {"asset": "BTC", "availableBalance": "inf"}]
    assert parse_balance_rows(rows) == {}
    assert parse_balance_rows([{k: v for k, v in ROW.items() if k != "balance"}]) == {}


def test_stream_updates_replace_the_wallet_and_keep_the_last_available() -> None:
    balances = Balances()
    balances.take(parse_balance_rows([ROW]))
    taken = balances.on_stream([{"a": "USDT", "wb": "9999.5", "cw": "9999.4", "bc": "0"}], 2_000)
    assert taken == 1
    held = balances.get("USDT")
    assert held == AssetBalance(Decimal("9999.5"), Decimal("9999.4"), Decimal("9500.5"), 2_000)


def test_an_event_older_than_the_figure_held_is_ignored() -> None:
    # A REST read at t=1000 overtook an event stamped 900: the event is history.
    balances = Balances()
    balances.take(parse_balance_rows([ROW]))
    assert balances.on_stream([{"a": "USDT", "wb": "1"}], 900) == 0
    assert balances.wallets() == {"USDT": Decimal("10000.12345678")}


def test_malformed_stream_rows_are_skipped_and_the_rest_taken() -> None:
    balances = Balances()
    rows: list[object] = [{"a": "USDT"}, {"wb": "1"}, 7, {"a": "BNB", "wb": "x"}]
    rows.append({"a": "USDT", "wb": "5"})
    assert balances.on_stream(rows, 10) == 1
    held = balances.get("USDT")
    assert held is not None
    assert held.wallet == Decimal(5)
    assert held.available is None  # the stream never states it


def test_differing_names_each_asset_whose_wallet_is_not_the_venues() -> None:
    balances = Balances()
    balances.on_stream([{"a": "USDT", "wb": "100"}, {"a": "BNB", "wb": "1"}], 10)
    venue = parse_balance_rows(
        [ROW | {"balance": "100"}, ROW | {"asset": "BNB", "balance": "2"}, ROW | {"asset": "ETH"}]
    )
    assert balances.differing(venue) == {"BNB": Decimal(2), "ETH": Decimal("10000.12345678")}
    balances.take(venue)
    assert balances.differing(venue) == {}


@given(
    st.lists(
        st.tuples(st.sampled_from(["USDT", "BNB"]), st.decimals(allow_nan=False, places=8),
                  st.integers(0, 10**6)),
        max_size=30,
    )
)  # fmt: skip
def test_the_newest_statement_of_each_asset_wins(updates: list[tuple[str, Decimal, int]]) -> None:
    balances = Balances()
    newest: dict[str, tuple[int, Decimal]] = {}
    for asset, wallet, at in updates:
        if not wallet.is_finite():
            continue
        balances.on_stream([{"a": asset, "wb": str(wallet)}], at)
        if asset not in newest or at >= newest[asset][0]:
            newest[asset] = (at, wallet)
    assert balances.wallets() == {asset: wallet for asset, (_, wallet) in newest.items()}
