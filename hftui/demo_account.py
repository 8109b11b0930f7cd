"""The local exchange's built-in demo account.

Published on purpose: it only ever works against the loopback exchange, so a fresh machine
can demo and test the live path offline. It is never used for a real venue.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEMO_API_KEY", "DEMO_API_SECRET"]

DEMO_API_KEY: Final = "hftui-demo-key-0000000000000000000000000000000000000000000000000"
DEMO_API_SECRET: Final = "hftui-demo-secret-0000000000000000000000000000000000000000000000"  # noqa: S105
