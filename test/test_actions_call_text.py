"""Parsing whole call texts: valid forms, and a clear error (never an exception) for everything else."""
from __future__ import annotations

import pytest

from octopus_ros.actions import ActionRegistry, format_number, quote_string, unescape

R = ActionRegistry.default()


def tok(name: str) -> str:
    return R.by_name(name).token


@pytest.mark.parametrize("text,name,arguments", [
    ("<nexa_4>('red mug')<nexa_end>", "pick_up", {"object": "red mug"}),
    ("<nexa_3>()<nexa_end>", "stop", {}),
    ("<nexa_1>('forward', 10)<nexa_end>", "move", {"direction": "forward", "distance_m": 10.0}),
    ("<nexa_1>('forward', 10.50)<nexa_end>", "move", {"direction": "forward", "distance_m": 10.5}),
    ("<nexa_1>('forward', 1)<nexa_end>", "move", {"direction": "forward", "distance_m": 1.0}),  # explicit default
    ("<nexa_1>('left')<nexa_end>", "move", {"direction": "left", "distance_m": 1.0}),
    ("<nexa_2>(-90)<nexa_end>", "turn", {"angle_deg": -90.0}),
    ("<nexa_2>(-0.5)<nexa_end>", "turn", {"angle_deg": -0.5}),
    ("<nexa_2>(0)<nexa_end>", "turn", {"angle_deg": 0.0}),
    ("<nexa_15>()<nexa_end>", "set_timer", {"hours": 0, "minutes": 0, "seconds": 0}),
    ("<nexa_15>(0, 0, 59)<nexa_end>", "set_timer", {"hours": 0, "minutes": 0, "seconds": 59}),
    ("<nexa_9>('')<nexa_end>", "speak", {"text": ""}),
    ("<nexa_9>('a\\'b\\\\c')<nexa_end>", "speak", {"text": "a'b\\c"}),
    ("<nexa_9>('(), \\', ')<nexa_end>", "speak", {"text": "(), ', "}),
    ("<nexa_9>('<nexa_end>')<nexa_end>", "speak", {"text": "<nexa_end>"}),
    ("  <nexa_3>()<nexa_end>\n", "stop", {}),
    (b"<nexa_10>('\xe5\x8f\xb0\xe7\x81\xaf')<nexa_end>", "turn_on", {"device": "台灯", "area": ""}),
    ("<nexa_30>()<nexa_end>", "no_action", {}),
])
def test_valid_call_texts(text, name, arguments):
    result = R.parse(text)
    assert result.ok, result.error
    assert result.error == ""
    assert result.call.name == name and result.call.arguments == arguments


MALFORMED = [
    (None, "expected the call text as a str, got NoneType"),
    (42, "expected the call text as a str, got int"),
    (["<nexa_3>()<nexa_end>"], "expected the call text as a str, got list"),
    (b"\xff\xfe", "the call text is not valid UTF-8"),
    ("", "empty call text"),
    ("   \n", "empty call text"),
    ("stop()", "the call text must start with a functional token (this action set has 31 functions: "
               "<nexa_0>..<nexa_30>), got 'stop()'"),
    ("<nexa_99>()<nexa_end>", "unknown functional token '<nexa_99>'"),
    ("<nexa_-1>()<nexa_end>", "unknown functional token '<nexa_-1>'"),
    ("<nexa_03>()<nexa_end>", "unknown functional token '<nexa_03>'"),
    ("<nexa_3>()", "stop: missing the end token <nexa_end>"),
    ("<nexa_3>()<nexa_end><nexa_end>", "stop: unexpected text after the closing ')' at position 10: '<nexa_end>'"),
    ("<nexa_3>()<nexa_end> and more", "unexpected text after <nexa_end>: ' and more'"),
    ("<nexa_3><nexa_end>", "stop: incomplete call: expected '(' after the functional token"),
    ("<nexa_3>(<nexa_end>", "stop: incomplete call: expected ')'"),
    ("<nexa_3>('x')<nexa_end>", "stop: takes no arguments, got \"'\" at position 9"),
    ("<nexa_4>()<nexa_end>", "pick_up: missing required argument 'object' at position 9"),
    ("<nexa_4>('red mug', 'cup')<nexa_end>", "pick_up: takes at most 1 argument, got more at position 18"),
    ("<nexa_4>(red mug)<nexa_end>", "pick_up: argument 'object': expected a quoted value ('...') at position 9, got 'r'"),
    ('<nexa_4>("red mug")<nexa_end>', "pick_up: argument 'object': expected a quoted value"),
    ("<nexa_4>('red mug)<nexa_end>", "pick_up: incomplete call: unterminated string for argument 'object'"),
    ("<nexa_4>('red\\nmug')<nexa_end>", "pick_up: argument 'object': bad escape '\\n' at position 13: only \\\\ and \\' are allowed"),
    ("<nexa_4>('red\tmug')<nexa_end>", "pick_up: argument 'object': control character U+0009 at position 13"),
    ("<nexa_4>('red\x00mug')<nexa_end>", "control character U+0000"),
    ("<nexa_4>('" + "x" * 61 + "')<nexa_end>", "pick_up: argument 'object': string longer than its max_length 60"),
    ("<nexa_4>('\ud800')<nexa_end>", "control character U+D800"),
    ("<nexa_1>('up')<nexa_end>", "move: argument 'direction': 'up' is not one of ['forward', 'backward', 'left', 'right']"),
    ("<nexa_1>('Forward')<nexa_end>", "'Forward' is not one of"),
    ("<nexa_1>('forward',10)<nexa_end>", "move: expected exactly one space after ',' at position 19, got '1'"),
    ("<nexa_1>('forward',  10)<nexa_end>", "move: argument 'distance_m': expected a number at position 20, got ' '"),
    ("<nexa_1>( 'forward')<nexa_end>", "expected a quoted value ('...') at position 9, got ' '"),
    ("<nexa_1>('forward' )<nexa_end>", "expected ', ' or ')' after argument 'direction' at position 18, got ' '"),
    ("<nexa_1>('forward', )<nexa_end>", "move: argument 'distance_m': expected a number at position 20, got ')'"),
    ("<nexa_1>('forward', 'ten')<nexa_end>", "move: argument 'distance_m': expected a number"),
    ("<nexa_1>('forward', 1e3)<nexa_end>", "expected ', ' or ')' after argument 'distance_m' at position 21, got 'e'"),
    ("<nexa_1>('forward', 10.)<nexa_end>", "'10.' is not a number"),
    ("<nexa_1>('forward', .5)<nexa_end>", "argument 'distance_m': expected a number at position 20, got '.'"),
    ("<nexa_1>('forward', 007)<nexa_end>", "'007' is not a number (expected -?(0|[1-9][0-9]*)(.[0-9]+)?, no leading zeros)"),
    ("<nexa_1>('forward', 101)<nexa_end>", "move: argument 'distance_m': 101 is above the maximum 100"),
    ("<nexa_1>('forward', -1)<nexa_end>", "move: argument 'distance_m': -1 is below the minimum 0"),
    ("<nexa_1>('forward', 1-2)<nexa_end>", "'1-2' is not a number"),
    ("<nexa_1>('forward', 1" + "0" * 40 + ")<nexa_end>", "number too long (more than 32 characters)"),
    ("<nexa_2>(-0)<nexa_end>", "turn: argument 'angle_deg': '-0': negative zero is not allowed (write 0)"),
    ("<nexa_2>(-0.00)<nexa_end>", "negative zero is not allowed"),
    ("<nexa_2>(361)<nexa_end>", "turn: argument 'angle_deg': 361 is above the maximum 360"),
    ("<nexa_18>(40.0)<nexa_end>", "set_volume: argument 'level': '40.0' is not an integer"),
    ("<nexa_18>(-5)<nexa_end>", "set_volume: argument 'level': -5 is below the minimum 0"),
    ("<nexa_18>(1000)<nexa_end>", "set_volume: argument 'level': 1000 is above the maximum 100"),
    ("<nexa_18>(-)<nexa_end>", "set_volume: argument 'level': '-' is not an integer"),
    ("<nexa_15>(0, , 5)<nexa_end>", "set_timer: argument 'minutes': expected a number at position 13, got ','"),
    ("<nexa_15>(0, 60)<nexa_end>", "set_timer: argument 'minutes': 60 is above the maximum 59"),
    ("<nexa_15>(0, 0, 0, 0)<nexa_end>", "set_timer: takes at most 3 arguments, got more at position 17"),
    ("<nexa_3>()<nexa_end>" + "x" * 100_000, "call text too long (100020 characters; no call of this action set is longer than"),
]


@pytest.mark.parametrize("text,message", MALFORMED, ids=[f"m{i}" for i in range(len(MALFORMED))])
def test_malformed_call_texts(text, message):
    result = R.parse(text)
    assert not result.ok and result.call is None
    assert message in result.error, result.error


def test_grammar_parse_positions_are_relative_to_the_argument_text():
    arguments, error = R.by_name("pick_up").grammar.parse("('a\\n')")
    assert arguments is None and "bad escape '\\n' at position 3" in error


def test_quoting_helpers():
    assert quote_string("it's") == "'it\\'s'"
    assert quote_string("a\\b") == "'a\\\\b'"
    assert unescape("it\\'s \\\\") == "it's \\"
    assert format_number(10.0, "float") == "10"
    assert format_number(10.5, "float") == "10.5"
    assert format_number(-0.0, "float") == "0"
    assert format_number(1e-7, "float") == "0.0000001"
    assert format_number(1e22, "float") == "10000000000000000000000"
    assert format_number(0.1 + 0.2, "float") == "0.30000000000000004"
    assert format_number(-3, "int") == "-3"
    with pytest.raises(ValueError):
        format_number(float("inf"), "float")
