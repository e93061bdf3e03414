"""CallGrammar.check: INVALID / PREFIX / COMPLETE for the text after the functional token."""
from __future__ import annotations

import itertools
import re
import time
from fractions import Fraction

import pytest

from octopus_ros.actions import MAX_NUMBER_CHARS, ActionRegistry, PrefixState
from octopus_ros.actions.numbers import NumberRule

R = ActionRegistry.default()
I, P, C = PrefixState.INVALID, PrefixState.PREFIX, PrefixState.COMPLETE


def g(name: str):
    return R.by_name(name).grammar


@pytest.mark.parametrize("name,text,state", [
    # the CONTRACTS.md examples
    ("pick_up", "('red mu", P), ("pick_up", "('red mug')", C), ("pick_up", "('red mug',", I),
    ("pick_up", "", P), ("pick_up", "(", P), ("pick_up", "('", P), ("pick_up", "('red mug'", P),
    ("pick_up", "()", I), ("pick_up", "('red mug') ", I), ("pick_up", "('red mug'))", I), ("pick_up", "x", I),
    ("pick_up", "('a\\", P), ("pick_up", "('a\\'", P), ("pick_up", "('a\\\\", P), ("pick_up", "('a\\n", I),
    ("pick_up", "('" + "x" * 60, P), ("pick_up", "('" + "x" * 60 + "')", C), ("pick_up", "('" + "x" * 61, I),
    ("pick_up", "('" + "x" * 59 + "\\", P), ("pick_up", "('" + "x" * 60 + "\\", I),
    ("pick_up", "('" + "中" * 60 + "')", C), ("pick_up", "('a\x7f", I), ("pick_up", "('a\u2028", I),
    # no arguments
    ("stop", "(", P), ("stop", "()", C), ("stop", "( )", I), ("stop", "('", I), ("stop", ")", I),
    # enum prefixes
    ("move", "('", P), ("move", "('f", P), ("move", "('forward", P), ("move", "('forwardx", I),
    ("move", "('forward'", P), ("move", "('forward')", C), ("move", "('up", I), ("move", "('F", I),
    ("move", "('forward',", P), ("move", "('forward', ", P), ("move", "('forward', 1", P),
    ("move", "('forward', 1)", C), ("move", "('forward',)", I), ("move", "('forward', )", I),
    ("move", "('forward', 100", P), ("move", "('forward', 100.", P), ("move", "('forward', 100.0", P),
    ("move", "('forward', 100.01", I), ("move", "('forward', 1000", I), ("move", "('forward', 0.", P),
    ("move", "('forward', -", I), ("move", "('forward', 0.5)", C), ("move", "('forward', 00", I),
    ("move", "('forward', 1, ", I),
    # ints
    ("set_volume", "(1", P), ("set_volume", "(10", P), ("set_volume", "(10)", C), ("set_volume", "(100)", C),
    ("set_volume", "(1000", I), ("set_volume", "(101", I), ("set_volume", "(0", P), ("set_volume", "(01", I),
    ("set_volume", "(0)", C), ("set_volume", "(-", I), ("set_volume", "(1.", I), ("set_volume", "(1)", C),
    ("set_timer", "(2", P), ("set_timer", "(23)", C), ("set_timer", "(24", I), ("set_timer", "(3", P),
    ("set_timer", "(30", I), ("set_timer", "(0, 5", P), ("set_timer", "(0, 60", I), ("set_timer", "()", C),
    ("set_timer", "(,", I), ("set_timer", "(0, 0, 0)", C), ("set_timer", "(0, 0, 0,", I),
    ("instacart_shopping", "('x', 0", I), ("instacart_shopping", "('x', 1", P),
    ("instacart_shopping", "('x', 100)", C), ("instacart_shopping", "('x')", C),
    # floats with negative ranges, negative zero
    ("turn", "(-", P), ("turn", "(-0", P), ("turn", "(-0)", I), ("turn", "(-0.", P), ("turn", "(-0.0", P),
    ("turn", "(-0.0)", I), ("turn", "(-0.01)", C), ("turn", "(-360)", C), ("turn", "(-361", I),
    ("turn", "(-36", P), ("turn", "(-3600", I), ("turn", "(360.", P), ("turn", "(360.0000)", C),
    ("turn", "(360.0001", I), ("turn", "(--1", I), ("turn", "(1-", I), ("turn", "(1..", I),
    ("set_temperature", "(4", I), ("set_temperature", "(3", P), ("set_temperature", "(35", P),
    ("set_temperature", "(36", I), ("set_temperature", "(5", P), ("set_temperature", "(5)", C),
    ("set_temperature", "(4.9", I), ("set_temperature", "(1", P), ("set_temperature", "(19.5)", C),
    ("set_temperature", "(0", I), ("set_temperature", "(0.", I),
])
def test_check_table(name, text, state):
    assert g(name).check(text) is state


def test_optional_arguments_may_be_left_out_in_order():
    grammar = g("set_brightness")
    assert grammar.check("(30)") is C
    assert grammar.check("(30, 'lamp')") is C
    assert grammar.check("(30, 'lamp', 'hall')") is C
    assert grammar.check("(30, '', 'hall')") is C
    assert grammar.check("()") is I


def test_check_accepts_any_string():
    grammar = g("move")
    for text in ["\x00", "\ud800", "(" * 500, "'" * 300, "\\" * 10, "(\u200b", "🙂"]:
        assert grammar.check(text) in (I, P, C)


# -- numbers: reachability against brute force ------------------------------------------------------
def _int_literals(lo: int, hi: int) -> set[str]:
    return {str(v) for v in range(lo, hi + 1)}


@pytest.mark.parametrize("lo,hi", [(0, 100), (-15, 150), (1, 100), (5, 7), (-360, -12), (0, 0)])
def test_int_prefixes_exhaustive(lo, hi):
    rule = NumberRule("int", lo, hi)
    literals = _int_literals(lo, hi)
    prefixes = {lit[:i] for lit in literals for i in range(1, len(lit) + 1)}
    for n in range(1, 5):
        for chars in itertools.product("-0123456789.", repeat=n):
            s = "".join(chars)
            assert rule.prefix_ok(s) == (s in prefixes), s
            value, error = rule.value(s)
            assert (error == "") == (s in literals), s


FLOAT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def _float_reference(s: str, lo: Fraction, hi: Fraction, extra: int = 3) -> bool:
    """Some literal s + t (t of at most `extra` characters) is valid and in range. (For the bounds used
    here, digits 0, 1, 5, 9 and '.' are enough to build a completion; '-' never extends a literal.)"""
    for n in range(extra + 1):
        for chars in itertools.product("0159.", repeat=n):
            t = s + "".join(chars)
            if FLOAT_RE.fullmatch(t):
                v = Fraction(t)
                if lo <= v <= hi and not (v == 0 and t.startswith("-")):
                    return True
    return False


@pytest.mark.parametrize("lo,hi", [(-2.5, 3.25), (5.0, 35.0), (0.0, 100.0)])
def test_float_prefixes_against_brute_force(lo, hi):
    rule = NumberRule("float", lo, hi)
    flo, fhi = Fraction(repr(lo)), Fraction(repr(hi))
    for n in range(1, 4):
        for chars in itertools.product("-0123579.", repeat=n):
            s = "".join(chars)
            assert rule.prefix_ok(s) == _float_reference(s, flo, fhi, extra=3), s


def test_number_length_cap():
    rule = NumberRule("float", None, None)
    assert rule.prefix_ok("1" * MAX_NUMBER_CHARS)
    assert not rule.prefix_ok("1" * (MAX_NUMBER_CHARS + 1))
    assert rule.prefix_ok("0." + "0" * (MAX_NUMBER_CHARS - 3))          # "0.000...0" + one more digit
    assert not rule.prefix_ok("-0." + "0" * (MAX_NUMBER_CHARS - 3))     # only -0.000...0 fits: negative zero
    assert rule.value("1" * MAX_NUMBER_CHARS)[1] == ""
    unbounded_int = NumberRule("int")
    assert unbounded_int.value(str(2 ** 63 - 1))[1] == ""
    assert "above the maximum" in unbounded_int.value(str(2 ** 63))[1]
    assert unbounded_int.prefix_ok("-" + str(2 ** 63)) and not unbounded_int.prefix_ok(str(2 ** 63))


def test_enum_values_with_quotes_and_backslashes():
    r = ActionRegistry.from_dict({
        "schema_version": 1, "no_action": "none", "end_token": "<e>", "token_format": "<f{index}>",
        "functions": [{"name": "none"}, {"name": "pick", "args": [
            {"name": "v", "type": "enum", "values": ["it's", "a\\b", "plain"]}]}]})
    grammar = r.by_name("pick").grammar
    assert grammar.check("('it") is P
    assert grammar.check("('it\\") is P
    assert grammar.check("('it\\'") is P
    assert grammar.check("('it\\'s')") is C
    assert grammar.check("('it'") is I
    assert grammar.check("('a\\\\b')") is C
    assert grammar.check("('a\\b')") is I
    for value in ["it's", "a\\b", "plain"]:
        text = r.format_call("pick", {"v": value})
        assert r.parse(text).call.arguments == {"v": value}


def test_check_is_fast():
    """Micro-benchmark (decoder-like: every prefix of every example + a few candidate tokens). The
    measured number is ~2-3 us on a laptop-class core; the bound here only catches gross regressions."""
    pairs = []
    for f in R:
        for e in f.examples:
            body = R.format_call(f.name, e["arguments"])[len(f.token):-len(R.end_token)]
            pairs += [(f.grammar, body[:i] + t) for i in range(len(body)) for t in ("'", ",", ")", "1", "a")]
    start = time.perf_counter()
    for grammar, text in pairs:
        grammar.check(text)
    per_call_us = (time.perf_counter() - start) / len(pairs) * 1e6
    assert per_call_us < 100, per_call_us


@pytest.mark.parametrize("name,text,values", [
    ("pick_up", "", []), ("pick_up", "(", []), ("pick_up", "('", [(0, "")]), ("pick_up", "('red m", [(0, "red m")]),
    ("pick_up", "('a\\'b')", [(0, "a\\'b")]), ("pick_up", "('a\\", [(0, "a\\")]), ("stop", "()", []),
    ("move", "('forward', 1", [(0, "forward")]), ("move", "('forward', 1)", [(0, "forward")]),
    ("set_brightness", "(30, 'lamp', 'ha", [(1, "lamp"), (2, "ha")]),
    ("set_brightness", "(30, '', 'hall')", [(1, ""), (2, "hall")]), ("set_brightness", "(30,", []),
    ("send_email", "('bob', 'it\\'s late', 'b", [(0, "bob"), (1, "it\\'s late"), (2, "b")]),
])
def test_quoted_values_of_a_prefix(name, text, values):
    assert g(name).check(text) is not I
    assert g(name).quoted_values(text) == values


def test_quoted_values_of_every_example_call():
    """Each example call's quoted values are its written str/enum arguments, escaped, in schema order."""
    checked = 0
    for function in R.functions:
        for example in function.examples:
            body = R.format_call(function.name, example["arguments"])[len(function.token):-len(R.end_token)]
            arguments = R.parse(function.token + body + R.end_token).call.arguments
            literals = [a.format_value(arguments[a.name]) for a in function.args]
            written = next(k for k in range(len(literals) + 1) if "(" + ", ".join(literals[:k]) + ")" == body)
            expected = [(i, literals[i][1:-1]) for i in range(written) if function.args[i].type in ("str", "enum")]
            assert function.grammar.quoted_values(body) == expected, (function.name, body)
            checked += bool(expected)
    assert checked > 30
