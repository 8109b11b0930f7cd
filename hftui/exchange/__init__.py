"""hftui.exchange."""
