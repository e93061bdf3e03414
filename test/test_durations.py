"""The duration a command says (model/durations.py) and the timer call it publishes."""
from __future__ import annotations

from pathlib import Path

import pytest

from octopus_ros.actions import ActionRegistry
from octopus_ros.model.durations import base60, duration_said, with_said_duration

REGISTRY = ActionRegistry.from_yaml(Path(__file__).resolve().parents[1] / "config" / "functions.yaml")


@pytest.mark.parametrize("text,seconds", [
    ("Set a timer for 52 minutes", 52 * 60),
    ("set a timer for twenty minutes and twenty seconds", 20 * 60 + 20),
    ("Set a timer for an hour and a half.", 5400),
    ("start a timer: two and a half hours", 9000),
    ("give me a a quarter of an hour timer.", 900),
    ("Give me a a minute and a half timer", 90),
    ("count down one hundred and five seconds", 105),
    ("Set a timer for 90 seconds", 90),
    ("timer for 1 hour and 30 minutes", 5400),
    ("half an hour, please", 1800),
    ("倒计时十秒", 10),
    ("设一个九十分钟的倒计时！", 5400),
    ("请定个半分钟的计时器。", 30),
    ("嗯，定个半个小时的计时器", 1800),
    ("定一个25分钟的计时器", 25 * 60),        # 一个 is an article
    ("倒计时两个半小时", 9000),
    ("计时一分半钟", 90),
    ("计时器设成二十五分25秒。", 25 * 60 + 25),
    ("设置四小时二十五分钟的计时器。", 4 * 3600 + 25 * 60),
    ("定一个三刻钟的计时器", 2700),
    ("倒计时一百五十秒", 150),
])
def test_a_said_duration_is_read(text, seconds):
    assert duration_said(text) == seconds


@pytest.mark.parametrize("text", [
    "set a timer for 5",                      # no unit
    "set a timer for minutes",                # no number
    "start 2 timers of 5 minutes",            # a number outside the pairs
    "count down fifty-five miutes",           # a misspelt unit leaves the number alone
    "10 minutes for the pasta and 5 minutes for the sauce",   # two durations
    "五分钟和十分钟",
    "倒计时一个半小时",                          # the data reads 一个半 both ways
    "设一个一个半小时的倒计时。",
    "设一个半分钟的倒计时",
    "what a nice day",
])
def test_an_ambiguous_or_missing_duration_is_not_read(text):
    assert duration_said(text) is None


def test_base60():
    assert base60(5400) == {"hours": 1, "minutes": 30, "seconds": 0}
    assert base60(3725) == {"hours": 1, "minutes": 2, "seconds": 5}


def test_a_timer_call_takes_the_said_duration():
    timer = REGISTRY.by_name("set_timer")
    wrong = {"hours": 0, "minutes": 10, "seconds": 0}
    assert with_said_duration(timer, wrong, "机器人，请倒计时十秒") == {"hours": 0, "minutes": 0, "seconds": 10}
    assert with_said_duration(timer, wrong, "set a timer") == wrong                   # nothing said: kept
    assert with_said_duration(timer, wrong, "set a timer for 30 hours") == wrong      # more than the call holds
    move = REGISTRY.by_name("move")                                                   # no hours/minutes/seconds
    assert with_said_duration(move, {"direction": "forward", "distance_m": 2.0}, "move for 2 minutes") == \
        {"direction": "forward", "distance_m": 2.0}
