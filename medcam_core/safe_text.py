"""Strings from datasets (file names, CSV cells, tags) shown safely: a name holding escape sequences
must not repaint the terminal, and an undecodable byte must not crash a print."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields, is_dataclass, replace
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, keep_newlines: bool = False) -> str:
    """`value` as text with control characters, lone surrogates and bidi overrides spelled as escapes;
    `keep_newlines` for multi-line text such as a traceback."""
    return (_CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL).sub(_escape, str(value))


def _multiline(text: str) -> str:
    return printable(text, keep_newlines=True)


def printable_fields(value: Any, text: Callable[[str], str] = _multiline) -> Any:
    """`value` with `text` applied to every string inside it (dataclass fields, dict keys and values,
    list items): the one door through which engine events reach a screen. `text` may add escaping of
    a markup language on top of `printable`."""
    if isinstance(value, str):
        return text(value)
    if is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: printable_fields(getattr(value, f.name), text) for f in fields(value) if f.init}
        return replace(value, **changed)
    if isinstance(value, dict):
        return {printable_fields(k, text): printable_fields(v, text) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable_fields(v, text) for v in value)
    return value
