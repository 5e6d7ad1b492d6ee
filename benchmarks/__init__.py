"""Benchmarks: each measures two things side by side in one run and reports their ratio.

Run them all with `python -m benchmarks` (or name some; `--quick` for smaller sizes, `--json FILE`).
"""
