"""HMAC-SHA256 request signing exactly as Binance USD-M specifies it.

The signature covers the query string concatenated with the body, byte for byte as sent, so
the signer builds the encoded parameter string once and sends that same string.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

__all__ = ["encode_params", "sign", "signed_query"]


def encode_params(params: dict[str, str]) -> str:
    """Form-encode parameters in insertion order (`@` kept literal, as venues expect)."""
    return urlencode(params, safe="@")


def sign(secret: bytes, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of `payload` under `secret`."""
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def signed_query(secret: bytes, params: dict[str, str]) -> str:
    """The encoded parameters with `signature` appended last."""
    payload = encode_params(params)
    return f"{payload}&signature={sign(secret, payload)}"
