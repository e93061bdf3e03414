"""Span rules: which string arguments the training data always copies from the command (learned from the
data), and the decoder keeping those values a piece of the command (tiny random model of the real
architecture, in-process)."""
from __future__ import annotations

import random

import pytest

from octopus_ros.actions import ActionRegistry
from octopus_ros.training.cases import Case
from octopus_ros.training.span_rules import MIN_EXAMPLES, span_rules
from test_model_fuzz import random_command

R = ActionRegistry.default()


def case(text: str, function: str, image: bool = False, **arguments) -> Case:
    return Case(id=text, lang="en", text=text, image="frame.png" if image else None, function=function,
                arguments=arguments)


def turn_on_cases(n: int, image: bool = False) -> list[Case]:
    return [case(f"Turn on the LAMP in room {i}", "turn_on", image, device="lamp", area=f"room {i}")
            for i in range(n)]


def test_an_argument_always_in_the_command_is_a_span():
    rules = span_rules(turn_on_cases(MIN_EXAMPLES), R)
    assert rules == {"text": {"turn_on": ["area", "device"]}, "image": {}}   # case-insensitive ("LAMP")


def test_one_value_not_in_the_command_breaks_the_rule_for_that_argument_only():
    cases = turn_on_cases(MIN_EXAMPLES) + [case("Lamp on in here", "turn_on", device="light", area="here")]
    assert span_rules(cases, R)["text"] == {"turn_on": ["area"]}


def test_a_missing_value_counts_against_the_rule():
    cases = turn_on_cases(MIN_EXAMPLES) + [case("Turn on the lamp", "turn_on", device="lamp")]
    assert span_rules(cases, R)["text"] == {"turn_on": ["device"]}


def test_too_few_examples_are_no_evidence():
    assert span_rules(turn_on_cases(MIN_EXAMPLES - 1), R) == {"text": {}, "image": {}}


def test_text_and_image_examples_are_judged_apart():
    pictured = [case("Turn this on", "turn_on", True, device="lamp", area="hall")] * MIN_EXAMPLES
    rules = span_rules(turn_on_cases(MIN_EXAMPLES) + pictured, R)
    assert rules == {"text": {"turn_on": ["area", "device"]}, "image": {}}
    assert span_rules(turn_on_cases(MIN_EXAMPLES, image=True), R)["image"] == {"turn_on": ["area", "device"]}


def test_only_string_arguments_get_rules():
    cases = [case(f"Set the volume to {v}", "set_volume", level=v) for v in range(MIN_EXAMPLES)]
    assert span_rules(cases, R) == {"text": {}, "image": {}}


def test_separation_changes_counts_training_calls_whose_span_values_share_words():
    """`octopus-ros data wording-check`: a training call whose area contains its device would be changed."""
    from octopus_ros.training.span_rules import separation_changes

    clean = turn_on_cases(MIN_EXAMPLES)
    assert separation_changes(clean, R) == {"calls": MIN_EXAMPLES, "changed": 0, "samples": []}
    shared = case("Turn on the hall lamp", "turn_on", device="lamp", area="hall lamp")
    found = separation_changes(clean + [shared], R)
    assert found["changed"] == 1
    assert found["samples"] == [("Turn on the hall lamp", {"device": "lamp", "area": "hall lamp"},
                                 {"device": "lamp", "area": "hall"})]


# -- decoding ---------------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
model_module = pytest.importorskip("octopus_ros.model")
from octopus_ros.model.agent import _CONTROL, _span_indices  # noqa: E402
from octopus_ros.model.errors import ModelLoadError  # noqa: E402


@pytest.fixture(scope="module")
def agent():
    return model_module.OctopusAgent.load("tiny-random", threads=2)


def every_string_argument() -> dict:
    return {f.name: [a.name for a in f.args if a.type == "str"] for f in R.functions
            if any(a.type == "str" for a in f.args)}


def string_values(agent, commands: list[str]) -> list[tuple[str, str]]:
    """(value, command) for each non-empty string argument of each call."""
    out = []
    for command in commands:
        result = agent.infer(command)
        if result.outcome == "call":
            function = agent.registry.by_name(result.function_name)
            out += [(result.arguments[a.name], command) for a in function.args
                    if a.type == "str" and result.arguments.get(a.name)]
    return out


def test_decoder_keeps_span_arguments_inside_the_command(agent):
    rng = random.Random(11)
    commands = [_CONTROL.sub(" ", random_command(rng, i)).strip() for i in range(240)]   # as infer() cleans them
    free = string_values(agent, commands)
    assert [v for v, c in free if v.lower() not in c.lower()], "the random model copies anyway: no test"
    agent.span_args = _span_indices(agent.registry, {"text": every_string_argument()}, None)
    try:
        spanned = string_values(agent, commands)
    finally:
        agent.span_args = _span_indices(agent.registry, {}, None)
    assert len(spanned) > 20, "too few string values to check"
    assert [(v, c) for v, c in spanned if v.lower() not in c.lower()] == []


def test_span_rules_of_a_checkpoint_must_fit_its_action_set():
    for rules, message in (({"audio": {}}, "unknown modality"), ({"text": {"fly": ["to"]}}, "unknown function"),
                           ({"text": {"turn_on": ["colour"]}}, "no string argument 'colour'"),
                           ({"text": {"set_volume": ["level"]}}, "no string argument 'level'")):
        with pytest.raises(ModelLoadError, match=message):
            _span_indices(R, rules, None)
