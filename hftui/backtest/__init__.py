"""Backtests: the engine's own classes driven by a simulated clock over recorded or synthetic
market data. Kept free of imports so the TUI can read reports (`report`, `chart`) without
loading the engine."""
