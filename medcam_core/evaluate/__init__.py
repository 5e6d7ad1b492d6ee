"""Held-out evaluation: thresholds frozen on validation, test metrics and their intervals."""
