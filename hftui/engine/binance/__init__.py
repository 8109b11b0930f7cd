"""The Binance USD-M adapter: one code path for every venue; they differ by URL and keys."""
