"""hftui.screens."""
