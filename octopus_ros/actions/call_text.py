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


def number_literals(text: str) -> list[tuple[str, bool]]:
    """The unquoted number literals of an argument text such as "(0, 5" or "('x', 1.5)", in order, each with
    True when it is finished (a separator or ")" follows it); the last one may still be being written. Quoted
    values (with their escapes) are skipped."""
    found: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":   # skip the quoted value: a backslash escapes the next character
            i += 1
            while i < n and text[i] != "'":
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif c == "-" or c.isdigit():
            start = i
            while i < n and (text[i] == "-" or text[i] == "." or text[i].isdigit()):
                i += 1
            found.append((text[start:i], i < n))
        else:
            i += 1
    return found


def clip(text: str, limit: int = 40) -> str:
    """A value shortened for an error message."""
    return text if len(text) <= limit else text[:limit] + "..."
