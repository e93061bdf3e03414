"""Typing slips read as the words training commands use (model/spelling.py), on their own and in the agent."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from octopus_ros.model.spelling import CommandSpelling, command_words, typed_values

EXAMPLES = [("Play.", {}), ("play the music", {}), ("pause the music", {}),   # free-text values only
            ("halt", {}), ("text Cloe I'm late", {"contact": "Cloe", "message": "I'm late"}),
            ("find my keys on Amazon", {"product": "keys"}), ("find it", {}), ("fine, thanks", {})]


def test_command_words_count_what_commands_say_outside_their_values():
    words = command_words(EXAMPLES)
    assert words["play"] == 2 and words["music"] == 2 and words["amazon"] == 1
    assert words["cloe"] == 0 and words["late"] == 0 and words["keys"] == 0   # said only inside values
    assert words["i'm"] == 0 and "the" in words
    assert list(words) == sorted(words)


@pytest.fixture
def spelling() -> CommandSpelling:
    return CommandSpelling(command_words(EXAMPLES), is_word=lambda word: word in {"pay", "bill"})


@pytest.mark.parametrize("typed, meant", [
    ("Paly.", "Play."), ("puse the music", "pause the music"), ("Haot", "Halt"), ("PALY", "PLAY"),
    ("fnid my keys on Anazon", "find my keys on Amazon"),
    ("fid it", "find it"),   # "find" (2 commands) and "fine" (1) are both one slip away: the more said wins
])
def test_a_slip_is_respelled_as_the_training_word_one_slip_away(spelling, typed, meant):
    assert spelling.respelled(typed) == meant


@pytest.mark.parametrize("command", [
    "play the music",        # every word known
    "pay the bill",          # "pay" is a word of the language (the LM holds it whole), not a slip of "play"
    "text Chloe",            # "Cloe" is only ever a value: never a respelling
    "go to the fim",         # "fim": "find" and "fine" are two slips away
    "thw music",             # one slip from "the", but only words of MIN_LETTERS letters are respellings
    "hl",                    # a slip has MIN_LETTERS - 1 letters at least
    "播放音乐",              # Chinese has no slips of this kind
])
def test_what_is_no_slip_is_left_as_it_is(spelling, command):
    assert spelling.respelled(command) is None


def test_without_command_words_nothing_is_respelled():
    assert CommandSpelling().respelled("Paly.") is None


def test_free_text_values_keep_the_commands_own_words():
    arguments = {"contact": "Cloe", "message": "Cloe is late", "action": "play"}
    typed = typed_values(arguments, {"contact", "message"}, "Paly Chloe: chloe is late", "Play Cloe: cloe is late")
    assert typed == {"contact": "Chloe", "message": "Chloe is late", "action": "play"}   # enum untouched


def test_the_shipped_checkpoint_has_its_command_words():
    meta = json.loads((Path(__file__).resolve().parents[1] / "models/default/octopus.json").read_text())
    words = meta["command_words"]
    assert words["play"] > 0 and words["amazon"] > 0 and "paly" not in words


@pytest.fixture(scope="module")
def shipped_agent():
    from octopus_ros.model.agent import OctopusAgent
    return OctopusAgent.load("default", threads=2)


def test_the_agent_reads_a_refused_command_with_its_slips_respelled(shipped_agent):
    plain = shipped_agent.infer("Play.")
    assert (plain.outcome, plain.function_name, plain.arguments) == ("call", "media_control", {"action": "play"})
    assert "respelled" not in plain.timings_ms   # a call the model makes is never read again
    slip = shipped_agent.infer("Paly.")
    assert (slip.outcome, slip.function_name, slip.arguments) == ("call", "media_control", {"action": "play"})
    assert "read as 'Play.'" in slip.reason and slip.timings_ms["respelled"] > 0
    assert slip.timings_ms["total"] >= slip.timings_ms["respelled"]
    refused = shipped_agent.infer("pay the electricity bill")   # a word, not a slip of "play"
    assert refused.outcome == "no_action" and "respelled" not in refused.timings_ms
