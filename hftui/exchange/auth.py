"""Request parameters and HMAC-SHA256 signatures exactly as Binance USD-M checks them.

Parameters come from the query string and a form body (the query wins on a clash). The
signature covers the raw query string concatenated with the raw body, minus the trailing
`signature` pair, byte for byte as received, because each client forms it differently.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, unquote_plus

from hftui.exchange.errors import VenueError

__all__ = ["Credentials", "SignedRequest", "parse_params", "verify"]

DEFAULT_RECV_WINDOW_MS: Final = 5000
MAX_RECV_WINDOW_MS: Final = 60000
FUTURE_TOLERANCE_MS: Final = 1000


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    secret: bytes


@dataclass(frozen=True, slots=True)
class SignedRequest:
    api_key: str
    params: dict[str, str]


def parse_params(query: str, body: str) -> dict[str, str]:
    """Merge query and form body parameters; the query wins. Duplicates within one part are
    refused as Binance does (-1101)."""
    params: dict[str, str] = {}
    for part in (body, query):  # later wins: the query overrides the body
        seen: set[str] = set()
        for name, value in parse_qsl(part, keep_blank_values=True):
            if name in seen:
                raise VenueError(400, -1101, f"Duplicate values for a parameter detected: {name}")
            seen.add(name)
            params[name] = value
    return params


def _strip_signature(part: str) -> tuple[str, str | None]:
    # The signature must be the last pair of whichever part carries it.
    marker = part.rfind("signature=")
    if marker < 0 or (marker > 0 and part[marker - 1] != "&"):
        return part, None
    value = part[marker + len("signature=") :]
    if "&" in value:
        return part, None
    return part[: max(0, marker - 1)], value


def verify(
    headers: Mapping[str, str],
    query: str,
    body: str,
    keys: Mapping[str, Credentials],
    now_ms: int,
    signed: bool = True,
) -> SignedRequest:
    """Authenticate a request.

    Args:
        headers: request headers (looked up case-insensitively by the caller's mapping).
        query: the raw query string, as received.
        body: the raw form body, as received ("" for none).
        keys: API key -> credentials.
        now_ms: server time.
        signed: False for USER_STREAM endpoints, which need only the API key.

    Raises:
        VenueError: with Binance's code for each failure.
    """
    api_key = headers.get("X-MBX-APIKEY", "")
    if not api_key:
        raise VenueError(401, -2014, "API-key format invalid.")
    credentials = keys.get(api_key)
    if credentials is None:
        raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    params = parse_params(query, body)
    if not signed:
        return SignedRequest(api_key, params)
    timestamp = params.get("timestamp", "")
    if not timestamp.isdigit():
        raise VenueError.mandatory("timestamp")
    window_text = params.get("recvWindow", str(DEFAULT_RECV_WINDOW_MS))
    if not window_text.isdigit() or not 0 < int(window_text) <= MAX_RECV_WINDOW_MS:
        raise VenueError.invalid("recvWindow")
    sent, window = int(timestamp), int(window_text)
    if sent >= now_ms + FUTURE_TOLERANCE_MS:
        raise VenueError(
            400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if now_ms - sent > window:
        raise VenueError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    query_rest, in_query = _strip_signature(query)
    body_rest, in_body = _strip_signature(body)
    signature = in_query or in_body
    if not signature:
        raise VenueError.mandatory("signature")
    payload = (query_rest if in_query else query) + (body_rest if in_body else body)
    # Some clients sign the decoded form of what they percent-encode on the wire.
    if not _matches(credentials.secret, payload, signature) and not _matches(
        credentials.secret, unquote_plus(payload), signature
    ):
        raise VenueError(400, -1022, "Signature for this request is not valid.")
    params.pop("signature", None)
    return SignedRequest(api_key, params)


def _matches(secret: bytes, payload: str, signature: str) -> bool:
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())
