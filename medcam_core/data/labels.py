"""Turn a label cell of a CSV into 0 or 1 without guessing: anything unrecognised is an error.

Reading every cell as text (never letting a table library infer floats) is what makes the plan's
`Cannot cast array data from dtype('float64') to dtype('int64')` impossible.
"""

from __future__ import annotations

from collections.abc import Sequence

BLANK = {"", "nan", "na", "n/a", "none", "null"}
TRUE = {"1", "1.0", "yes", "y", "true", "t", "positive"}
FALSE = {"0", "0.0", "no", "n", "false", "f", "negative"}


class LabelError(ValueError):
    """A label value that is neither blank, a boolean spelling, nor a listed class name."""


def parse_label(value: str, positive: Sequence[str] = (), negative: Sequence[str] = ()) -> int | None:
    """1 or 0, None for a blank cell; class names listed in the config win over boolean spellings."""
    key = value.strip().casefold()
    if key in {p.casefold() for p in positive}:
        return 1
    if key in {n.casefold() for n in negative}:
        return 0
    if key in BLANK:
        return None
    if key in TRUE:
        return 1
    if key in FALSE:
        return 0
    listed = [*positive, *negative]
    hint = f"a listed class ({', '.join(listed)}) or " if listed else ""
    raise LabelError(f"expected {hint}0/1, yes/no or true/false, got {value.strip()!r}")
