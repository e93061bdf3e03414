"""The incremental prefix checker of a function's argument text, used by the constrained decoder.

``CallGrammar(function).check(text)`` answers, for ANY string `text` (what follows the functional token,
without the end token), whether it is

* ``COMPLETE``: a valid call text, e.g. ``('red mug')``;
* ``PREFIX``: not complete, but some continuation makes it valid, e.g. ``('red mu``;
* ``INVALID``: no continuation can make it valid, e.g. ``('red mug',`` for a one-argument function.

The language is exactly the one the parser accepts (``parse`` runs the same scanner and collects the
values), so "check() says COMPLETE" and "ActionRegistry.parse() succeeds" always agree. One left-to-right
scan, no backtracking: string bodies are skipped with a single-character-class regex search (C speed),
numbers with a cached reachability test (numbers.NumberRule). Once ")" closes the call, nothing may follow.
"""
from __future__ import annotations

import enum
import re

from .call_text import clip, escape as _escape, unescape as _unescape
from .numbers import MAX_NUMBER_CHARS

# The characters that end a run of plain string content: the closing quote, the escape character and
# the forbidden characters (see specs.FORBIDDEN_CHARS).
_STRING_STOP = re.compile("['\\\\\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_NUMBER_END = re.compile(r"[^0-9.\-]")


class PrefixState(enum.Enum):
    INVALID = 0
    PREFIX = 1
    COMPLETE = 2


INVALID, PREFIX, COMPLETE = PrefixState.INVALID, PrefixState.PREFIX, PrefixState.COMPLETE

_QUOTED, _NUMBER = 0, 1


class CallGrammar:
    """Prefix checker and parser of one function's argument text: ``(v1, v2, ...)``."""

    def __init__(self, function):
        self.function = function
        self.args = tuple(function.args)
        self.n_args = len(self.args)
        self.n_required = sum(1 for a in self.args if a.required)
        plan = []
        for a in self.args:
            if a.type == "str":
                plan.append((_QUOTED, a, a.max_length, None, None))
            elif a.type == "enum":
                escaped = [_escape(v) for v in a.values]
                prefixes = frozenset(e[:i] for e in escaped for i in range(len(e) + 1))
                plan.append((_QUOTED, a, max(len(v) for v in a.values), frozenset(escaped), prefixes))
            else:
                plan.append((_NUMBER, a, None, a.number_rule, None))
        self._plan = tuple(plan)

    def __repr__(self) -> str:
        return f"CallGrammar({self.function.name!r})"

    # -- public -------------------------------------------------------------------------------------
    def check(self, text: str) -> PrefixState:
        """INVALID / PREFIX / COMPLETE for the text after the functional token (without the end token)."""
        return self._scan(text, False, 0)[0]

    def parse(self, text: str, offset: int = 0) -> tuple[dict | None, str]:
        """(arguments with defaults filled, "") for a COMPLETE text, else (None, reason). `offset` is
        added to the character positions in the messages (the length of the functional token)."""
        state, values, message = self._scan(text, True, offset)
        if state is COMPLETE:
            arguments = {}
            for i, a in enumerate(self.args):
                arguments[a.name] = values[i] if i < len(values) else a.default
            return arguments, ""
        if state is PREFIX:
            return None, f"{self.function.name}: incomplete call: {message}"
        return None, f"{self.function.name}: {message}"

    def quoted_values(self, text: str, with_open: bool = False) -> list[tuple]:
        """(argument index, raw body) of each quoted value in `text`, the last one possibly unterminated;
        with `with_open`, (argument index, raw body, unterminated?). `text` must not be INVALID (the decoder
        only extends valid prefixes), so there are no error checks."""
        found = [(i, raw, unfinished) for i, quoted, raw, unfinished in self._literals(text) if quoted]
        return found if with_open else [(i, body) for i, body, _ in found]

    def number_literals(self, text: str, with_index: bool = False) -> list[tuple]:
        """(literal, finished?) of each number argument written in `text`, in order; the last one may still be
        being written ("(0, 5" -> [("0", True), ("5", False)]); with `with_index`, (argument index, literal,
        finished?). Like quoted_values, for a valid prefix."""
        found = [(i, raw, not unfinished) for i, quoted, raw, unfinished in self._literals(text) if not quoted]
        return found if with_index else [(raw, finished) for _, raw, finished in found]

    def _literals(self, text: str) -> list[tuple[int, bool, str, bool]]:
        """(argument index, quoted?, raw literal, unfinished?) of each value written in a valid prefix."""
        found = []
        n, pos, i = len(text), 1, 0
        while pos < n and i < self.n_args and text[pos] != ")":
            if self._plan[i][0] == _QUOTED:
                end = _scan_quoted(text, pos + 1, n, n)[0]
                if end < 0:
                    found.append((i, True, text[pos + 1:], True))
                    break
                found.append((i, True, text[pos + 1:end - 1], False))
                pos = end
            else:
                m = _NUMBER_END.search(text, pos)
                if m is None:
                    found.append((i, False, text[pos:], True))
                    break
                found.append((i, False, text[pos:m.start()], False))
                pos = m.start()
            if pos == n or text[pos] == ")":
                break
            pos += 2  # ", "
            i += 1
        return found

    # -- the scanner --------------------------------------------------------------------------------
    def _scan(self, text: str, collect: bool, offset: int):
        """(state, values, message); values and message are only filled when `collect`."""
        n = len(text)
        values = [] if collect else None
        if n == 0:
            return PREFIX, values, "expected '(' after the functional token"
        if text[0] != "(":
            return _bad(collect, values, "expected '(' after the functional token, got {!r}", text[0])
        pos = 1
        i = 0
        plan = self._plan
        while True:
            if pos == n:
                return PREFIX, values, (_expecting(self, i) if collect else "")
            ch = text[pos]
            if i == 0 and ch == ")":
                if self.n_required:
                    return _bad(collect, values, "missing required argument {!r} at position {}",
                                self.args[0].name, offset + pos)
                return _close(text, pos, collect, values, offset)
            if i >= self.n_args:
                return _bad(collect, values, "takes no arguments, got {!r} at position {}", ch, offset + pos)
            kind, arg, limit, rule_or_values, prefixes = plan[i]
            if kind == _QUOTED:
                if ch != "'":
                    return _bad(collect, values, "argument {!r}: expected a quoted value ('...') at position {}, "
                                "got {!r}", arg.name, offset + pos, ch)
                end, problem, at = _scan_quoted(text, pos + 1, n, limit)
                if end < 0:  # unterminated, or broken
                    if problem and not (problem == "long" and prefixes is not None):
                        if not collect:
                            return INVALID, None, ""
                        return INVALID, values, (f"argument {arg.name!r}: "
                                                 + _quoted_problem(text, problem, at, limit, offset))
                    if prefixes is not None and (problem or text[pos + 1:] not in prefixes):
                        return _bad(collect, values, "argument {!r}: {!r}... is not the start of one of {}",
                                    arg.name, clip(_unescape(text[pos + 1:])), list(arg.values))
                    return PREFIX, values, f"unterminated string for argument {arg.name!r}" if collect else ""
                raw = text[pos + 1:end - 1]
                if prefixes is not None:
                    if raw not in rule_or_values:
                        return _bad(collect, values, "argument {!r}: {!r} is not one of {}",
                                    arg.name, _unescape(raw), list(arg.values))
                if collect:
                    values.append(_unescape(raw))
                pos = end
            else:
                if ch != "-" and not ("0" <= ch <= "9"):
                    return _bad(collect, values, "argument {!r}: expected a number at position {}, got {!r}",
                                arg.name, offset + pos, ch)
                m = _NUMBER_END.search(text, pos)
                end = m.start() if m else n
                literal = text[pos:end]
                if end - pos > MAX_NUMBER_CHARS + 1:
                    literal = literal[:MAX_NUMBER_CHARS + 1]
                if end == n:
                    if rule_or_values.prefix_ok(literal):
                        return PREFIX, values, f"unfinished number for argument {arg.name!r}" if collect else ""
                    if not collect:
                        return INVALID, None, ""
                    return INVALID, values, f"argument {arg.name!r}: {rule_or_values.prefix_problem(literal)}"
                value, reason = rule_or_values.value(literal)
                if reason:
                    return _bad(collect, values, "argument {!r}: {}", arg.name, reason)
                if collect:
                    values.append(value)
                pos = end
            i += 1
            # after a value: ")" or ", "
            if pos == n:
                return PREFIX, values, (f"expected ', ' or ')' after argument {arg.name!r}" if collect else "")
            ch = text[pos]
            if ch == ")":
                if i < self.n_required:
                    return _bad(collect, values, "missing required argument {!r} at position {}",
                                self.args[i].name, offset + pos)
                return _close(text, pos, collect, values, offset)
            if ch != ",":
                return _bad(collect, values, "expected ', ' or ')' after argument {!r} at position {}, got {!r}",
                            arg.name, offset + pos, ch)
            if i >= self.n_args:
                return _bad(collect, values, "takes at most {} argument{}, got more at position {}",
                            self.n_args, "" if self.n_args == 1 else "s", offset + pos)
            if pos + 1 == n:
                return PREFIX, values, (f"expected ' ' after ',' and argument {self.args[i].name!r}"
                                        if collect else "")
            if text[pos + 1] != " ":
                return _bad(collect, values, "expected exactly one space after ',' at position {}, got {!r}",
                            offset + pos + 1, text[pos + 1])
            pos += 2


def _scan_quoted(text: str, j: int, n: int, limit: int) -> tuple[int, str, int]:
    """Scan a quoted value whose body starts at j. Returns (index after the closing quote, "", 0) when
    it is closed, (-1, "", 0) when the text ends inside it (still completable), or (-1, problem, k) when
    it is broken at index k: problem is "long" (more than `limit` characters), "escape" (a backslash not
    followed by \\ or ') or "char" (a forbidden character)."""
    length = 0
    search = _STRING_STOP.search
    while True:
        m = search(text, j)
        if m is None:
            length += n - j
            return (-1, "long", n) if length > limit else (-1, "", 0)
        k = m.start()
        length += k - j
        if length > limit:
            return -1, "long", k
        c = text[k]
        if c == "'":
            return k + 1, "", 0
        if c == "\\":
            if k + 1 == n:
                return (-1, "long", k) if length + 1 > limit else (-1, "", 0)
            e = text[k + 1]
            if e == "\\" or e == "'":
                length += 1
                j = k + 2
                continue
            return -1, "escape", k
        return -1, "char", k


def _quoted_problem(text: str, problem: str, k: int, limit: int, offset: int) -> str:
    if problem == "long":
        return f"string longer than its max_length {limit}"
    if problem == "escape":
        return (f"bad escape '\\{_show_char(text[k + 1])}' at position {offset + k}: "
                f"only \\\\ and \\' are allowed in a quoted value")
    return f"control character U+{ord(text[k]):04X} at position {offset + k} (not allowed in a value)"


def _show_char(ch: str) -> str:
    return ch if ch.isprintable() else f"U+{ord(ch):04X}"


def _close(text: str, pos: int, collect: bool, values, offset: int):
    if pos + 1 == len(text):
        return COMPLETE, values, ""
    return _bad(collect, values, "unexpected text after the closing ')' at position {}: {!r}",
                offset + pos + 1, clip(text[pos + 1:]))


def _bad(collect: bool, values, fmt: str, *args):
    return INVALID, values, (fmt.format(*args) if collect else "")


def _expecting(grammar: CallGrammar, i: int) -> str:
    if i == 0:
        if grammar.n_args == 0:
            return "expected ')'"
        return f"expected argument {grammar.args[0].name!r} or ')'" if grammar.n_required == 0 else \
            f"expected argument {grammar.args[0].name!r}"
    return f"expected argument {grammar.args[i].name!r}"
