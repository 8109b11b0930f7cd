"""hftui: a terminal-first trading workstation for Binance USD-M Futures."""

__all__ = ["__version__"]
__version__ = "0.1.0"
