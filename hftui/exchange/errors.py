"""Venue errors: every refusal is `{"code", "msg"}` JSON with Binance's status and code."""

from __future__ import annotations

__all__ = ["VenueError"]


class VenueError(Exception):
    """A request the venue refuses; the server turns it into the JSON error response."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg

    @classmethod
    def mandatory(cls, name: str) -> VenueError:
        return cls(
            400,
            -1102,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        )

    @classmethod
    def invalid(cls, name: str) -> VenueError:
        return cls(400, -1130, f"Data sent for parameter '{name}' is not valid.")
