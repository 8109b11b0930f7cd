"""hftui.engine."""
