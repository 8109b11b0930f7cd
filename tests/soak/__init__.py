"""The soak run: `make soak`, see soak.py."""
