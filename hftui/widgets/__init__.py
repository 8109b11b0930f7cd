"""hftui.widgets."""
