"""The numbers a command says (model/command_numbers.py) and the number literals of a call text (CallGrammar)."""
from __future__ import annotations

import pytest

from octopus_ros.actions import ActionRegistry
from octopus_ros.model.command_numbers import (allowed_literals, counts_in_degrees, counts_in_sixties,
                                               numbers_said, rotation_sign, says_other_numbers, sixtieths_said,
                                               turns_said, unplaced_literals, unwritten_counts, unwritten_sixties,
                                               unwritten_turns, with_said_rotation, without_fractions)
from octopus_ros.training.synth.templates import number_to_en, number_to_zh


@pytest.mark.parametrize("n", list(range(0, 130)) + [199, 205, 999, 1000, 1005, 2300, 10_000, 20_020, 99_999])
def test_every_number_the_generator_writes_is_read_back(n):
    """The data generator's own renderings (English words, Chinese numerals with and without 两) round-trip."""
    assert float(n) in numbers_said(number_to_zh(n))
    assert float(n) in numbers_said(number_to_zh(n, liang=True))
    assert float(n) in numbers_said(f"set it to {number_to_en(n)} please")


@pytest.mark.parametrize("text,expected", [
    ("Set a timer for fifty minutes and 15 seconds.", {50, 15}),
    ("定一个100分钟的计时器", {100, 1}),             # 一个: "one (timer)" is a number too
    ("把走廊调暗到百分之二十五", {25}),                # 百分之 is "per cent", not 100
    ("go straight for 15.5 meters", {15.5}),
    ("一点五米", {1.5}),
    ("a hundred and five", {105}),
    ("two thousand three hundred", {2300}),
    ("move five six meters", {5, 6}),               # two numbers, not 11
    ("ｖｏｌｕｍｅ ４０", {40}),                      # full-width digits
    ("3万", {30_000}),
    ("turn left", set()),
    ("someone said hello", set()),                 # "one" inside a word is not a number
])
def test_numbers_said(text, expected):
    assert numbers_said(text) == {float(v) for v in expected}


@pytest.fixture(scope="module")
def registry():
    return ActionRegistry.from_yaml("config/functions.yaml")


def test_number_literals_of_a_call_text_skip_quoted_values(registry):
    timer = registry.by_name("set_timer").grammar                  # (hours, minutes, seconds)
    assert timer.number_literals("(0, 5") == [("0", True), ("5", False)]
    assert timer.number_literals("(0, 57)") == [("0", True), ("57", True)]
    assert timer.number_literals("(0, ") == [("0", True)]        # the next value has not started
    brightness = registry.by_name("set_brightness").grammar        # (brightness, device, area)
    assert registry.by_name("turn").grammar.number_literals("(-4") == [("-4", False)]
    assert brightness.number_literals("(40, 'lamp 5', 'room 2')") == [("40", True)]
    email = registry.by_name("send_email").grammar                 # strings only
    assert email.number_literals("('it\\'s 3', 'b')") == []


def test_allowed_literals_and_unsaid_numbers():
    said = numbers_said("turn right one hundred forty-five degrees")
    assert allowed_literals(said) == {"0", "145", "-145"}
    assert allowed_literals(frozenset({1.5})) == {"0", "1.5", "-1.5"}
    assert says_other_numbers(["-45"], said)
    assert not says_other_numbers(["-145"], said)
    assert not says_other_numbers(["0", "0"], said)                # 0 is a default, never "unsaid"
    assert not says_other_numbers(["-"], said)                     # an unfinished literal is not a number yet
    # a duration said in one unit, written in hours / minutes / seconds: its base-60 parts
    assert allowed_literals(frozenset({125.0}), base60=True) == {"0", "125", "-125", "2", "5"}
    assert allowed_literals(frozenset({3725.0}), base60=True) >= {"62", "5", "1", "2"}
    assert allowed_literals(frozenset({60.5}), base60=True) == {"0", "60.5", "-60.5"}     # not a whole number
    assert allowed_literals(frozenset({59.0}), base60=True) == {"0", "59", "-59"}


def test_only_a_function_with_minutes_and_seconds_counts_in_sixties(registry):
    assert counts_in_sixties(registry.by_name("set_timer"))
    assert not any(counts_in_sixties(f) for f in registry.functions if f.name != "set_timer")


def test_unplaced_literals_are_said_numbers_an_argument_at_its_default_could_hold(registry):
    timer, volume = registry.by_name("set_timer"), registry.by_name("set_volume")
    said = numbers_said("set a timer for 5 hours and nineteen minutes")
    assert unplaced_literals(timer, {"hours": 5, "minutes": 0, "seconds": 0}, said) == {"19"}
    assert unplaced_literals(timer, {"hours": 5, "minutes": 19, "seconds": 0}, said) == set()
    # 100 fits no argument of set_timer (each below 60): a conversion, not a number left out
    assert unplaced_literals(timer, {"hours": 1, "minutes": 40, "seconds": 0}, numbers_said("100分钟")) == set()
    assert unplaced_literals(timer, {"hours": 0, "minutes": 5, "seconds": 0}, numbers_said("定一个五分钟的计时器")) \
        == set()                                           # 1 ("一个") is not required
    assert unplaced_literals(volume, {"level": 40}, numbers_said("音量四十，谢谢")) == set()   # no argument free
    brightness = registry.by_name("set_brightness")
    assert unplaced_literals(brightness, {"brightness": 40, "device": "lamp 3", "area": ""},
                             numbers_said("set lamp 3 to 40 percent")) == set()         # said inside a value


@pytest.mark.parametrize("command,call,required", [
    ("倒计时一百四十秒", (0, 2, 0), {"2", "20"}),            # part of 140 written
    ("set an 100 second timer", (0, 0, 20), {"1", "40"}),   # another number
    ("倒计时90秒", (0, 1, 30), set()),                      # every digit written
    ("set a timer for 120 seconds", (0, 1, 20), {"2"}),     # a zero digit is not required
    ("set a timer for 120 seconds", (0, 2, 0), set()),
    ("定一个一百八十分钟的计时器", (1, 30, 0), {"3"}),
    ("set a timer for 3725 seconds", (1, 2, 0), {"1", "2", "5"}),   # from an hour up: h, m, s
    ("set a timer for 5 minutes and 19 seconds", (0, 5, 0), set()),  # no number above 59: unplaced_literals
    ("set a timer for 100000 seconds", (0, 0, 0), set()),   # more than a day: no call can write it
])
def test_unwritten_sixties_are_the_base_60_digits_of_a_number_no_argument_holds(registry, command, call,
                                                                                 required):
    timer = registry.by_name("set_timer")
    arguments = dict(zip(("hours", "minutes", "seconds"), call))
    assert unwritten_sixties(timer, arguments, numbers_said(command)) == required


@pytest.mark.parametrize("command,call,required", [
    ("定一个四十四分钟的计时器", (0, 4, 0), {"44"}),
    ("Set a timer for fifty minutes and 15 seconds.", (0, 5, 15), {"50", "15"}),   # every count, not only 50
    ("计时器设成二十三分5秒", (0, 20, 5), {"23", "5"}),
    ("定一个九分钟的计时器", (0, 15, 0), {"9"}),              # 一 (an article) is not required
    ("帮我计时一个半小时", (0, 30, 0), {"1", "30"}),          # unless it is "one and a half"
    ("set a timer for one and a half hours", (0, 30, 0), {"1", "30"}),
    ("设一个半分钟的倒计时", (0, 1, 30), set()),
    ("set a timer for 1 hour", (0, 0, 0), set()),
    ("倒计时一百四十秒", (0, 2, 0), set()),                   # from 60 up: unwritten_sixties
    ("set a timer for 1.5 minutes", (0, 1, 30), set()),       # not a whole number
    ("定一个四十四分钟的计时器", (0, 44, 0), set()),
])
def test_unwritten_counts_are_the_said_numbers_under_sixty_when_a_timer_leaves_one_out(registry, command, call,
                                                                                      required):
    timer = registry.by_name("set_timer")
    arguments = dict(zip(("hours", "minutes", "seconds"), call))
    said = numbers_said(without_fractions(command)) | sixtieths_said(command)
    assert unwritten_counts(timer, arguments, said, command) == required
    assert unwritten_counts(registry.by_name("set_volume"), {"level": 4}, numbers_said("音量四十四")) == set()


def test_unwritten_sixties_only_for_a_call_in_sixties(registry):
    """set_volume's level holds 80 as it is; set_temperature counts in tens."""
    assert unwritten_sixties(registry.by_name("set_volume"), {"level": 8}, numbers_said("volume 80")) == set()
    assert unwritten_sixties(registry.by_name("set_temperature"), {"temperature": 7.0, "area": ""},
                             numbers_said("set it to 75")) == set()


@pytest.mark.parametrize("text,expected", [
    ("两个半小时", {30}), ("半分钟", {30}), ("half an hour", {30}), ("a minute and a half", {30}),
    ("一刻钟", {15}), ("三刻钟", {45}), ("a quarter of an hour", {15}), ("three quarters of an hour", {45}),
    ("set a timer for 5 minutes", set()), ("on behalf of", set()), ("halfway", set()),
])
def test_sixtieths_said_are_fractions_of_an_hour_or_a_minute(text, expected):
    assert sixtieths_said(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("请原地转一圈", {360}), ("向右转一整圈", {360}), ("转半圈", {180}), ("Do a full circle.", {360}),
    ("do a full spin!", {360}), ("one complete rotation please", {360}), ("half a turn to the left", {180}),
    ("make a quarter turn", {90}),
    # a turn is a verb as often as a noun, and two turns fit no angle
    ("turn around", set()), ("take a turn", set()), ("turn left 90 degrees", set()), ("转两圈", set()),
])
def test_turns_said_are_degrees(text, expected):
    assert turns_said(text) == expected


def test_unwritten_turns_are_required_either_way_round(registry):
    """Only turn takes an angle; a turn written with either sign is written."""
    assert [f.name for f in registry.functions if counts_in_degrees(f)] == ["turn"]
    assert unwritten_turns({"angle_deg": 1.0}, turns_said("原地转一圈")) == {"360"}
    assert unwritten_turns({"angle_deg": -360.0}, turns_said("turn right a full circle")) == set()


@pytest.mark.parametrize("text,counts", [
    ("Start a timer: three quarters of an hour", set()), ("设一个一刻钟的倒计时", {1}),   # 一个 stays
    ("two hours and a quarter", {2}), ("set a 5 minute timer", {5}),
])
def test_the_count_of_quarters_is_no_number_of_its_own(text, counts):
    assert numbers_said(without_fractions(text)) == counts


@pytest.mark.parametrize("text,sign", [
    ("turn left 90 degrees", 1), ("rotate counter-clockwise 30 degrees", 1), ("向左转九十度", 1), ("逆时针转四十五度", 1),
    ("turn right 45 degrees", -1), ("rotate 60 degrees clockwise", -1), ("右转三十度", -1), ("顺时针旋转六十度。", -1),
    ("turn around", 1), ("do a full circle, please.", 1), ("掉头", 1),         # no way named: positive
    ("turn left 90 degrees right away", 1),                                     # "right away" names no way
    ("spin 125 degrees right now", 0),                                          # right, or right now?
    ("turn left, then right", 0),
])
def test_rotation_sign(text, sign):
    assert rotation_sign(text) == sign


def test_an_angle_turns_the_way_the_command_says(registry):
    turn = registry.by_name("turn")
    assert with_said_rotation(turn, {"angle_deg": 60.0}, "顺时针旋转六十度") == {"angle_deg": -60.0}
    assert with_said_rotation(turn, {"angle_deg": -360.0}, "do a full circle") == {"angle_deg": 360.0}
    assert with_said_rotation(turn, {"angle_deg": -125.0}, "spin 125 degrees right now") == {"angle_deg": -125.0}
    move = registry.by_name("move")                                             # no angle: left as it is
    assert with_said_rotation(move, {"direction": "left", "distance_m": 1.0}, "move right") == \
        {"direction": "left", "distance_m": 1.0}
