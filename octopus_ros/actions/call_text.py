"""The call text: ``<nexa_i>(v1, v2, ...)<nexa_end>``, its value quoting/escaping and its formatting.

Canonical form (CONTRACTS.md): arguments positional in schema order, separated by ", " exactly; "(" and
")" always present; str/enum values single-quoted with backslash -> \\\\ and quote -> \\' (the only two
escapes; control characters are not allowed); numbers as numbers.format_number writes them; trailing
arguments equal to their default are left out. Parsing is grammar.CallGrammar.parse (the same scanner
the constrained decoder uses), wrapped by ActionRegistry.parse.
"""
from __future__ import annotations


def escape(value: str) -> str:
    """The body of a quoted value: backslash -> \\\\, quote -> \\'."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def quote_string(value: str) -> str:
    """Single-quote a str/enum value."""
    return "'" + escape(value) + "'"


def unescape(raw: str) -> str:
    """Inverse of escape() for a well-formed body (every backslash starts a two-character escape)."""
    if "\\" not in raw:
        return raw
    out = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\" and i + 1 < n:
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def format_arguments(function, arguments: dict) -> str:
    """``(v1, v2, ...)`` for already validated arguments (every argument present, or defaulted), with the
    trailing arguments equal to their default left out."""
    literals = []
    keep = 0
    for i, arg in enumerate(function.args):
        value = arguments.get(arg.name, arg.default)
        literals.append(arg.format_value(value))
        if arg.required or value != arg.default or type(value) is not type(arg.default):
            keep = i + 1
    return "(" + ", ".join(literals[:keep]) + ")"


def format_call(function, arguments: dict, end_token: str) -> str:
    """The whole canonical call text: functional token, argument list, end token."""
    return function.token + format_arguments(function, arguments) + end_token


def clip(text: str, limit: int = 40) -> str:
    """A value shortened for an error message."""
    return text if len(text) <= limit else text[:limit] + "..."
