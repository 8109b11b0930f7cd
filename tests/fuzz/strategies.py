"""Hypothesis strategies shared by the fuzz tests: JSON values of every shape."""

from __future__ import annotations

from hypothesis import strategies as st

# What orjson can write: integers beyond 64 bits are not JSON it produces.
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
json_object = st.dictionaries(st.text(max_size=8), json_value, max_size=6)
