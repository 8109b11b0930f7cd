"""hftui.engine.kernels."""
