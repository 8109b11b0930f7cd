"""Strategy plugins."""
