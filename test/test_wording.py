"""Frame phrases (model/wording.py): the words a function's commands say around its values, learned from
training examples; a call that copies one as a value is an incomplete command."""
from __future__ import annotations

from pathlib import Path

import pytest

from octopus_ros.actions import ActionRegistry
from octopus_ros.model import wording

REGISTRY = ActionRegistry.from_yaml(Path(__file__).resolve().parents[1] / "config" / "functions.yaml")
DEVICES = ["lamp", "fan", "heater", "radio", "kettle", "TV", "air conditioner", "printer", "switch", "light"]


def _examples():
    for i, device in enumerate(DEVICES * 2):
        yield "turn_off", f"please switch off the {device}", {"device": device, "area": ""}
        yield "turn_off", f"关掉{['台灯', '风扇', '电视', '空调', '开关'][i % 5]}", \
            {"device": ['台灯', '风扇', '电视', '空调', '开关'][i % 5], "area": ""}
    yield "turn_off", "switch off the kitchen light", {"device": "light", "area": "kitchen"}


def test_frame_phrases_are_the_words_around_values_never_a_value():
    phrases = set(wording.frame_phrases(_examples())["turn_off"])
    assert {"switch off", "switch off the", "please", "关掉", "关", "掉"} <= phrases
    assert "switch" not in phrases          # a device in one example: a value, so not a frame phrase
    assert "kitchen" not in phrases         # said once, outside a value: not the function's frame
    assert not any(device.lower() in phrases for device in DEVICES)


def test_a_phrase_needs_min_commands_of_the_function():
    few = [("turn_off", "kill the lamp", {"device": "lamp"})] * (wording.MIN_COMMANDS - 1)
    assert wording.frame_phrases(few)["turn_off"] == []
    assert "kill" in wording.frame_phrases(few + few[:1])["turn_off"]


@pytest.mark.parametrize("value,command,worded", [
    ("关掉", "关掉", True),
    ("Switch Off", "switch off the", True),         # any case
    ("lamp", "switch off the lamp", False),          # a value
    ("关掉", "把关掉的灯打开", True),
    ("switch off", "xyz", False),                    # not copied from the command: not judged here
])
def test_worded_values(value, command, worded):
    rules = wording.CommandWording(wording.frame_phrases(_examples()), [])
    turn_off = REGISTRY.by_name("turn_off")
    found = rules.worded(turn_off, {"device": value, "area": ""}, command)
    assert found == ([("device", value)] if worded else [])


def test_value_phrases_are_every_phrase_inside_a_value():
    examples = [("turn_on", "turn on the living room light", {"device": "light", "area": "living room"}),
                ("speak", "say 我的钥匙", {"text": "我的钥匙"})]
    assert set(wording.value_phrases(examples)) == {"light", "living", "room", "living room", "我", "的", "钥",
                                                    "匙", "我的", "的钥", "钥匙", "我的钥", "的钥匙", "我的钥匙"}


@pytest.mark.parametrize("value,expected", [
    ("tropical ideas", "tropical"),
    ("Body: see you at the airport", "see you at the airport"),   # the rest as written
    ("传统风格", "传统"),
    ("衣帽间的", "衣帽间"),
    ("living room", "living room"),      # "room" is inside a training value: protected
    ("ideas", "ideas"),                  # one word is kept (a whole-phrase value is judged by worded())
    ("modern", "modern"),
])
def test_trim_frame(value, expected):
    phrases = frozenset({"ideas", "body", "风格", "的", "room"})
    assert wording.trim_frame(value, phrases - {"room", "living room"}) == expected


def test_copied_values_are_trimmed_and_others_are_not():
    rules = wording.CommandWording({"interior_design": ["ideas", "风格"]}, ["room"])
    design = REGISTRY.by_name("interior_design")
    assert rules.trimmed(design, {"room": "kitchen", "style": "tropical ideas"}, "tropical ideas for the kitchen") \
        == {"room": "kitchen", "style": "tropical"}
    # not a piece of the command (e.g. a name the object lexicon gave): left as it is
    assert rules.trimmed(design, {"room": "kitchen", "style": "tropical ideas"}, "redo the kitchen")["style"] \
        == "tropical ideas"


@pytest.mark.parametrize("value,end,expected", [
    ("衣帽间的", True, "衣帽间"),
    ("tropical ideas for the", True, "tropical"),       # the longest phrase at that side
    ("的衣帽间", True, "的衣帽间"),                      # the other side is left alone
    ("for the kitchen", False, "kitchen"),
])
def test_trim_side(value, end, expected):
    assert wording.trim_side(value, frozenset({"的", "ideas for the", "for the", "the"}), end) == expected


def test_two_span_values_never_share_the_commands_words():
    rules = wording.CommandWording({"turn_off": ["的", "关掉"], "interior_design": ["ideas for the", "for the"]}, [])
    turn_off, design = REGISTRY.by_name("turn_off"), REGISTRY.by_name("interior_design")
    spans = frozenset({0, 1})
    assert rules.separated(turn_off, {"device": "电饭煲", "area": "衣帽间的电饭煲"}, "把衣帽间的电饭煲关掉", spans) \
        == {"device": "电饭煲", "area": "衣帽间"}
    command = "Show me tropical ideas for the living room"
    assert rules.separated(design, {"room": "living room", "style": "tropical ideas for the living room"}, command,
                           spans) == {"room": "living room", "style": "tropical"}
    # the inner value said twice: each claim may be its own ("主题是发票，内容是发票在附件里")
    twice = {"device": "灯", "area": "灯房的灯"}
    assert rules.separated(turn_off, twice, "关掉灯房的灯", spans) == twice
    # not span arguments (e.g. a value read from the picture that happens to be said): left alone
    assert rules.separated(turn_off, {"device": "电饭煲", "area": "衣帽间的电饭煲"}, "把衣帽间的电饭煲关掉",
                           frozenset()) == {"device": "电饭煲", "area": "衣帽间的电饭煲"}
    # inside, not at an edge: left alone
    inside = {"device": "饭", "area": "电饭煲"}
    assert rules.separated(turn_off, inside, "关掉电饭煲", spans) == inside
    # what would be left is only the joint: left alone
    joint = {"device": "电饭煲", "area": "的电饭煲"}
    assert rules.separated(turn_off, joint, "关掉客厅的电饭煲", spans) == joint


def test_the_shipped_checkpoint_knows_the_frame_of_incomplete_commands():
    """The test split's incomplete commands that session 13's decoder turned into calls."""
    import json

    meta = json.loads((Path(__file__).resolve().parents[1] / "models/default/octopus.json").read_text())
    phrases = meta["frame_phrases"]
    assert "关掉" in phrases["turn_off"] and "pick up" in phrases["pick_up"]
    assert "message" in phrases["send_text_message"]
    assert set(phrases) <= {f.name for f in REGISTRY.functions}
    assert {"room", "的"} <= set(meta["value_phrases"]) and "ideas" not in meta["value_phrases"]


def test_unseen_value_cuts_counts_the_values_trimming_would_break():
    """`octopus-ros data wording-check`: every copied value is checked once, by phrases learned without it.
    'lamp please' ends with "please", which the other commands say around their devices, and '开关' with 关
    ("关掉"), in no other device: both are cut, every time they are said (2 and 4 commands)."""
    from octopus_ros.training.cases import Case
    from octopus_ros.training.span_rules import unseen_value_cuts

    cases = [Case(str(i), "en", text, None, function, arguments) for i, (function, text, arguments)
             in enumerate(_examples())]
    cases += [Case(f"p{i}", "en", "please switch off the lamp please", None, "turn_off",
                   {"device": "lamp please", "area": ""}) for i in range(2)]
    found = unseen_value_cuts(cases, REGISTRY, folds=5, seed=0)
    assert found["values"] == len(cases) + 1          # the kitchen light has two values (device, area)
    assert found["cut"] == 6
    assert sorted(found["samples"]) == [("turn_off", "lamp please", "lamp"), ("turn_off", "开关", "开")]
    assert found["rate"] == pytest.approx(6 / found["values"])
