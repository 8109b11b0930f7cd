"""Signing against Binance's published futures example and vectors computed from it."""

from __future__ import annotations

import pytest

from hftui.engine.binance.auth import encode_params, sign, signed_query

SECRET = b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"


@pytest.mark.parametrize(
    ("payload", "signature"),
    [
        (
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
            "&recvWindow=5000&timestamp=1591702613943",
            "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9",
        ),
        (
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=9000"
            "&recvWindow=5000&timestamp=1591702613943",
            "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4",
        ),
        (
            "recvWindow=5000&timestamp=1591702613943",
            "5581570ecf76b9b74c6f1a66ef6520c2959a75c32641affb2634d655d6e64db8",
        ),
        (
            "symbol=BTCUSDT&orderId=22542179&timestamp=1591702613943",
            "5ec3c529eb16850f8034f28ec9c2a124f95cc30655b02c631b7c825f8a538e54",
        ),
    ],
)
def test_published_vectors(payload: str, signature: str) -> None:
    assert sign(SECRET, payload) == signature


def test_signed_query_appends_signature_last() -> None:
    params = {"symbol": "BTCUSDT", "orderId": "22542179", "timestamp": "1591702613943"}
    query = signed_query(SECRET, params)
    assert query == (
        "symbol=BTCUSDT&orderId=22542179&timestamp=1591702613943"
        "&signature=5ec3c529eb16850f8034f28ec9c2a124f95cc30655b02c631b7c825f8a538e54"
    )


def test_encoding_keeps_order_and_escapes() -> None:
    assert encode_params({"b": "1", "a": "x y", "c": "a@b"}) == "b=1&a=x+y&c=a@b"
