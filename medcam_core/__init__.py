"""Headless engine of medcam-tui: config, data, model, training queue, events.

Nothing in this package imports a UI toolkit; the TUI and the console talk to it through events.
"""

__version__ = "0.1.0"
