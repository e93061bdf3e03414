"""Property tests (hypothesis) of the call-text language: parse never raises, format/parse round-trips,
the prefix grammar accepts exactly the prefixes of valid calls, and agrees with the parser."""
from __future__ import annotations

import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from octopus_ros.actions import MAX_NUMBER_CHARS, ActionRegistry, PrefixState, format_number

R = ActionRegistry.default()
FUNCTIONS = [f for f in R.functions]
I, P, C = PrefixState.INVALID, PrefixState.PREFIX, PrefixState.COMPLETE

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Characters that matter to the grammar, plus some ordinary and non-ASCII ones.
GRAMMAR_CHARS = "()',\\ -.0123456789abdefilnorwx中\t\n"
VALUE_CHARS = st.one_of(
    st.sampled_from("'\\,() -.<>_"),
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"))


def value_strategy(arg):
    if arg.type == "str":
        return st.text(VALUE_CHARS, max_size=arg.max_length)
    if arg.type == "enum":
        return st.sampled_from(arg.values)
    if arg.type == "int":
        return st.integers(arg.min, arg.max)
    lo, hi = arg.min, arg.max
    exact = st.floats(lo, hi, allow_nan=False, allow_infinity=False).filter(
        lambda x: len(format_number(x, "float")) <= MAX_NUMBER_CHARS)
    return st.one_of(st.integers(math.ceil(lo), math.floor(hi)).map(float),
                     st.integers(math.ceil(lo * 10), math.floor(hi * 10)).map(lambda v: v / 10), exact)


@st.composite
def calls(draw):
    """(function, arguments): a random valid call, optional arguments sometimes left out."""
    function = draw(st.sampled_from(FUNCTIONS))
    arguments = {}
    for arg in function.args:
        if arg.required or draw(st.booleans()):
            arguments[arg.name] = draw(value_strategy(arg))
    return function, arguments


@st.composite
def near_valid_texts(draw):
    """(function, argument text): a valid argument text, mutated a little (or not at all)."""
    function, arguments = draw(calls())
    text = R.format_call(function, arguments)[len(function.token):-len(R.end_token)]
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        ch = draw(st.sampled_from(GRAMMAR_CHARS))
        if op == "insert":
            text = text[:i] + ch + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "replace":
            text = text[:i] + ch + text[i + 1:]
        else:
            text = text[:i]
    return function, text


any_argument_text = st.one_of(near_valid_texts(),
                              st.tuples(st.sampled_from(FUNCTIONS), st.text(GRAMMAR_CHARS, max_size=30)))


# (a) parse never raises, whatever it is given
@SETTINGS
@given(st.one_of(
    st.text(), st.text(GRAMMAR_CHARS + "<>_nexa", max_size=60), st.binary(), st.none(), st.integers(),
    st.floats(), st.lists(st.text(), max_size=2),
    st.builds(lambda f, body, end: f.token + body + end, st.sampled_from(FUNCTIONS),
              st.text(max_size=40), st.sampled_from(["<nexa_end>", "", "<nexa_end>x", "<nexa_en"])),
))
def test_parse_never_raises(value):
    result = R.parse(value)
    assert isinstance(result.ok, bool)
    if result.ok:
        assert result.error == "" and result.call is not None
    else:
        assert result.call is None and isinstance(result.error, str) and result.error
        assert "internal error" not in result.error


# (b) format_call then parse round-trips exactly
@SETTINGS
@given(calls())
def test_format_parse_round_trip(call):
    function, arguments = call
    expected = R.normalize_arguments(function.name, arguments)
    text = R.format_call(function.name, arguments)
    result = R.parse(text)
    assert result.ok, (text, result.error)
    assert result.call.function is function
    assert result.call.arguments == expected
    assert list(result.call.arguments) == function.arg_names
    for a in function.args:
        assert type(result.call.arguments[a.name]) is type(expected[a.name])
    assert R.format_call(function.name, result.call.arguments) == text  # canonical form is a fixed point


# (c) every proper prefix of a valid call text is PREFIX, the whole text COMPLETE
@SETTINGS
@given(calls())
def test_prefixes_of_valid_calls(call):
    function, arguments = call
    text = R.format_call(function.name, arguments)[len(function.token):-len(R.end_token)]
    grammar = function.grammar
    assert grammar.check(text) is C
    for i in range(len(text)):
        assert grammar.check(text[:i]) is P, (text, i)


# (d) check() says COMPLETE exactly when parse() succeeds; and the grammar is prefix-closed
@SETTINGS
@given(any_argument_text)
def test_grammar_agrees_with_parser(case):
    function, text = case
    state = function.grammar.check(text)
    event(state.name)
    result = R.parse(function.token + text + R.end_token)
    assert (state is C) == result.ok, (text, state, result.error)
    if result.ok:
        assert result.call.function is function
    if state is not I:
        for i in range(len(text)):
            assert function.grammar.check(text[:i]) is P, (text, i)
    else:
        for tail in ("'", ")", "0", "', '"):
            assert function.grammar.check(text + tail) is I, (text, tail)
