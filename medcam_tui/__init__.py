"""Front ends of medcam-tui: the command line, the headless console and the terminal UI.

Nothing here imports TensorFlow at module import; the engine loads it inside the worker.
"""
