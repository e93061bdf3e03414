"""Numeric literals of the call text: syntax, canonical formatting, range checks and prefix reachability.

Syntax (CONTRACTS.md): int ``-?(0|[1-9][0-9]*)``; float the same, optionally followed by ``.[0-9]+``.
Two restrictions keep the language finite and the form canonical:

* at most ``MAX_NUMBER_CHARS`` characters per literal (so every float literal is finite);
* no negative zero: ``-0`` and ``-0.0`` are rejected (``-0.5`` is fine); the canonical form writes ``0``.

Range checks compare the exact decimal value of the literal with the exact decimal value of the bound
as written (the shortest repr of the YAML number), so the prefix checker, the parser and the formatter
agree to the last digit. Ints without bounds get the int64 range (what a ROS consumer can store).
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

MAX_NUMBER_CHARS = 32
INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1

_INT_COMPLETE = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT_COMPLETE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_INT_PREFIX = re.compile(r"-?(?:0|[1-9][0-9]*)?")
_FLOAT_PREFIX = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)?")

_CACHE_LIMIT = 4096


def bound_fraction(value) -> Fraction | None:
    """The exact decimal value of a YAML bound (its shortest repr), or None for no bound."""
    if value is None:
        return None
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(float(value)))


def format_number(value, kind: str) -> str:
    """Canonical literal of an int or float (integral floats without '.0', no exponent, no '-0')."""
    if kind == "int":
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    if value == 0:
        return "0"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class NumberRule:
    """The literals allowed for one int/float argument (its type and range)."""

    __slots__ = ("kind", "lo", "hi", "_complete_re", "_prefix_re", "_prefix_cache", "_value_cache")

    def __init__(self, kind: str, minimum=None, maximum=None):
        if kind not in ("int", "float"):
            raise ValueError(f"not a numeric type: {kind!r}")
        self.kind = kind
        lo, hi = bound_fraction(minimum), bound_fraction(maximum)
        if kind == "int":
            lo = Fraction(INT64_MIN) if lo is None else max(lo, Fraction(INT64_MIN))
            hi = Fraction(INT64_MAX) if hi is None else min(hi, Fraction(INT64_MAX))
        self.lo, self.hi = lo, hi
        self._complete_re = _INT_COMPLETE if kind == "int" else _FLOAT_COMPLETE
        self._prefix_re = _INT_PREFIX if kind == "int" else _FLOAT_PREFIX
        self._prefix_cache: dict[str, bool] = {}
        self._value_cache: dict[str, tuple] = {}

    # -- complete literals --------------------------------------------------------------------------
    def value(self, literal: str):
        """(value, "") for a valid complete literal in range, else (None, reason)."""
        cached = self._value_cache.get(literal)
        if cached is None:
            cached = self._value(literal)
            if len(self._value_cache) >= _CACHE_LIMIT:
                self._value_cache.clear()
            self._value_cache[literal] = cached
        return cached

    def _value(self, literal: str):
        if len(literal) > MAX_NUMBER_CHARS:
            return None, f"number too long (more than {MAX_NUMBER_CHARS} characters)"
        if self._complete_re.fullmatch(literal) is None:
            if self.kind == "int":
                return None, f"{literal!r} is not an integer (expected -?(0|[1-9][0-9]*), no leading zeros)"
            return None, f"{literal!r} is not a number (expected -?(0|[1-9][0-9]*)(.[0-9]+)?, no leading zeros)"
        exact = Fraction(literal)
        if exact == 0 and literal.startswith("-"):
            return None, f"{literal!r}: negative zero is not allowed (write 0)"
        if self.lo is not None and exact < self.lo:
            return None, f"{literal} is below the minimum {_show(self.lo)}"
        if self.hi is not None and exact > self.hi:
            return None, f"{literal} is above the maximum {_show(self.hi)}"
        return (int(literal) if self.kind == "int" else float(literal)), ""

    # -- prefixes -----------------------------------------------------------------------------------
    def prefix_ok(self, literal: str) -> bool:
        """True when `literal` (non-empty) is the start of some valid literal whose value is in range."""
        cached = self._prefix_cache.get(literal)
        if cached is None:
            cached = self._prefix_ok(literal)
            if len(self._prefix_cache) >= _CACHE_LIMIT:
                self._prefix_cache.clear()
            self._prefix_cache[literal] = cached
        return cached

    def prefix_problem(self, literal: str) -> str:
        """Why `literal` is not the start of a valid value ("" when it is)."""
        if self.prefix_ok(literal):
            return ""
        if len(literal) <= MAX_NUMBER_CHARS and self._prefix_re.fullmatch(literal) is not None:
            _, reason = self.value(literal)
            if reason and self._complete_re.fullmatch(literal) is not None:
                return reason
            what = "integer" if self.kind == "int" else "number"
            lo = "-inf" if self.lo is None else _show(self.lo)
            hi = "inf" if self.hi is None else _show(self.hi)
            return f"no {what} starting with {literal!r} is in the range {lo}..{hi}"
        return self.value(literal)[1]

    def _prefix_ok(self, literal: str) -> bool:
        if len(literal) > MAX_NUMBER_CHARS or self._prefix_re.fullmatch(literal) is None:
            return False
        negative = literal.startswith("-")
        unsigned = literal[1:] if negative else literal
        room = MAX_NUMBER_CHARS - len(literal)
        # bounds on the magnitude x of the value (value = -x when negative)
        if negative:
            a = Fraction(0) if self.hi is None else max(-self.hi, Fraction(0))
            b = None if self.lo is None else -self.lo
        else:
            a = Fraction(0) if self.lo is None else max(self.lo, Fraction(0))
            b = self.hi
        if b is not None and b < a:
            return False
        return self._reachable(unsigned, room, a, b, negative)

    def _reachable(self, unsigned: str, room: int, a: Fraction, b: Fraction | None, nonzero: bool) -> bool:
        """Is there an unsigned literal starting with `unsigned`, at most `room` characters longer, whose
        value x satisfies a <= x <= b (and x != 0 when `nonzero`)?"""
        if unsigned == "":
            if room < 1:
                return False
            return any(self._reachable(d, room - 1, a, b, nonzero) for d in "0123456789")
        is_float = self.kind == "float"
        if "." in unsigned:
            int_part, frac = unsigned.split(".", 1)
            base = Fraction(int(int_part + frac), 10 ** len(frac))
            if room >= 1:
                return _grid_hits(base, Fraction(1, 10 ** (len(frac) + room)), 10 ** room, a, b, nonzero)
            return frac != "" and _grid_hits(base, Fraction(1), 1, a, b, nonzero)
        if unsigned == "0":
            if is_float and room >= 2:
                return _grid_hits(Fraction(0), Fraction(1, 10 ** (room - 1)), 10 ** (room - 1), a, b, nonzero)
            return _grid_hits(Fraction(0), Fraction(1), 1, a, b, nonzero)
        head = int(unsigned)
        for k in range(room + 1):
            start = head * 10 ** k
            if b is not None and start > b:
                return False
            left = room - k  # characters left after k more integer digits
            if is_float and left >= 2:
                step = Fraction(1, 10 ** (left - 1))
                count = 10 ** k * 10 ** (left - 1)
            else:
                step, count = Fraction(1), 10 ** k
            if _grid_hits(Fraction(start), step, count, a, b, nonzero):
                return True
        return False


def _grid_hits(start: Fraction, step: Fraction, count: int, a: Fraction, b: Fraction | None,
               nonzero: bool) -> bool:
    """Does some x = start + m*step (0 <= m < count) lie in [a, b], with x != 0 when `nonzero`?"""
    m_lo = max(0, math.ceil((a - start) / step))
    m_hi = count - 1
    if b is not None:
        m_hi = min(m_hi, math.floor((b - start) / step))
    if nonzero and start == 0:
        m_lo = max(m_lo, 1)
    return m_lo <= m_hi


def _show(bound: Fraction) -> str:
    if bound.denominator == 1:
        return str(bound.numerator)
    return format_number(float(bound), "float")
