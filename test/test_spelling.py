"""Typing slips read as the words training commands use (model/spelling.py), on their own and in the agent."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from octopus_ros.model.spelling import CommandSpelling, command_words, typed_values

EXAMPLES = ([("Play.", {}), ("play the music", {}), ("pause the music", {}), ("halt", {}),
             ("find my keys on Amazon", {"product": "keys"}), ("find it", {}), ("fine, thanks", {})] * 3
            + [("text Cloe I'm late", {"contact": "Cloe", "message": "I'm late"}), ("Cloe is here", {})])


def test_command_words_count_what_commands_say_outside_their_free_text_values():
    words = command_words(EXAMPLES)
    assert words["play"] == 6 and words["music"] == 6 and words["amazon"] == 3
    assert words["cloe"] == 1 and words["keys"] == 0 and words["late"] == 0   # inside values they do not count
    assert "the" in words and list(words) == sorted(words)


@pytest.fixture
def spelling() -> CommandSpelling:
    return CommandSpelling(command_words(EXAMPLES), is_word=lambda word: word in {"pay", "bill"})


@pytest.mark.parametrize("typed, meant", [
    ("Paly.", "Play."), ("puse the music", "pause the music"), ("Haot", "Halt"), ("PALY", "PLAY"),
    ("fnid my keys on Anazon", "find my keys on Amazon"),
    ("fid it", "find it"),   # "find" (6 times) and "fine" (3) are both one slip away: the more said wins
])
def test_a_slip_is_respelled_as_the_training_word_one_slip_away(spelling, typed, meant):
    assert spelling.respelled(typed) == meant


@pytest.mark.parametrize("command", [
    "play the music",        # every word known
    "pay the bill",          # "pay" is a word of the language (the LM holds it whole), not a slip of "play"
    "text Chloe",            # "Cloe" is said outside a value once only (MIN_SAID): never a respelling
    "go to the fim",         # "fim": "find" and "fine" are two slips away
    "thw music",             # one slip from "the", but only words of TYPO_MIN letters are respellings
    "hl",                    # a slip has TYPO_MIN - 1 letters at least
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
    assert words["pause"] > 0   # an enum's value is the command's own word: only free-text values are left out


@pytest.fixture(scope="module")
def shipped_agent():
    from octopus_ros.model.agent import OctopusAgent
    return OctopusAgent.load("default", threads=2)


def test_the_agent_reads_a_command_with_its_slips_respelled(shipped_agent):
    plain = shipped_agent.infer("Play.")
    assert (plain.outcome, plain.function_name, plain.arguments, plain.reason) == (
        "call", "media_control", {"action": "play"}, "")
    slip = shipped_agent.infer("Paly.")   # the model alone answers no_action
    assert (slip.outcome, slip.function_name, slip.arguments) == ("call", "media_control", {"action": "play"})
    assert slip.reason == "read as 'Play.' (typing slips respelled)"
    word = shipped_agent.infer("pay the electricity bill")   # a word, not a slip of "play"
    assert word.outcome == "no_action" and "read as" not in word.reason
    chinese = shipped_agent.infer("播放音乐 Paly")   # Chinese commands are read as typed
    assert "read as" not in chinese.reason


def test_free_text_values_are_published_as_typed(shipped_agent):
    result = shipped_agent.infer("Seaarch for muisc festivals")   # "music" is said in 53 training commands
    assert result.reason == "read as 'Search for music festivals' (typing slips respelled)"
    assert (result.function_name, result.arguments) == ("google_search", {"query": "muisc festivals"})
