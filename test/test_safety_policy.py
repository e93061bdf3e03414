"""The safety policy layer without ROS: loading/merging/checking policies, the gate's decisions (unit and
hypothesis property tests), the stop phrase matcher. What these prove: the DECISION for a given
(function, arguments, confidence, image, time) is right. That the node routes every call through this
decision before /octopus/action is shown by test_node_safety.py."""
from __future__ import annotations

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octopus_ros.actions import ActionRegistry
from octopus_ros.actions.registry import default_path
from octopus_ros.actions.loader import read_yaml
from octopus_ros.safety import (ALLOW, CONFIRM, LOW_CONFIDENCE, POLICY, PolicyError, PolicyGate, PolicySet,
                                StopMatcher, load_policies, normalize)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE = read_yaml(default_path())
R = ActionRegistry.from_dict(BASE)
P = load_policies(R)


def registry_with(change) -> ActionRegistry:
    data = copy.deepcopy(BASE)
    change(data)
    return ActionRegistry.from_dict(data)


def fn(data, name):
    return next(f for f in data["functions"] if f["name"] == name)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


# ---- the shipped policy ---------------------------------------------------------------------------------
def test_shipped_policy_needs_confirmation_for_messages_and_orders():
    confirm = {p.name for p in P if p.requires_confirmation}
    assert confirm == {"send_email", "send_text_message", "amazon_shopping", "instacart_shopping", "doordash_order"}
    assert P.stop_function.name == "stop"
    stop = P["stop"]
    assert stop.rate_limit is None and not stop.requires_confirmation and stop.min_confidence == 0.0
    assert all(p.min_confidence >= 0.5 for p in P if not p.stop)  # safe default for a trained model


def test_policy_is_not_part_of_the_fingerprint():
    def strip(data):
        data.pop("default_policy", None)
        for f in data["functions"]:
            f.pop("policy", None)
    assert registry_with(strip).fingerprint() == R.fingerprint()


@SETTINGS
@given(st.dictionaries(st.sampled_from(R.names), st.fixed_dictionaries(
    {}, optional={"enabled": st.booleans(), "min_confidence": st.floats(0, 1),
                  "requires_confirmation": st.booleans(), "without_image": st.sampled_from(["allow", "refuse"]),
                  "rate_limit": st.one_of(st.none(), st.fixed_dictionaries(
                      {"max_calls": st.integers(1, 50), "window_s": st.floats(0.1, 1e4)}))})))
def test_any_policy_edit_keeps_the_fingerprint(edits):
    def change(data):
        for name, policy in edits.items():
            if name != "stop":
                fn(data, name)["policy"] = policy
    assert registry_with(change).fingerprint() == R.fingerprint()


# ---- merging and checking --------------------------------------------------------------------------------
def test_overlay_overrides_defaults_and_function_policy_wins_over_defaults():
    overlay = {"default_policy": {"min_confidence": 0.1}, "functions": {"turn": {"enabled": False}}}
    ps = PolicySet.from_registry(R, overlay, "overlay.yaml")
    assert ps["move"].min_confidence == 0.1 and ps["move"].args["distance_m"].max == 10.0
    assert not ps["turn"].enabled and ps["send_email"].requires_confirmation
    assert "overlay.yaml" in ps.source


@pytest.mark.parametrize("change, expected", [
    (lambda d: fn(d, "move").__setitem__("policy", {"args": {"speed": {"max": 1}}}), "move has no argument 'speed'"),
    (lambda d: fn(d, "move").__setitem__("policy", {"args": {"direction": {"allow": ["up"]}}}),
     "are not values of direction"),
    (lambda d: fn(d, "move").__setitem__("policy", {"args": {"direction": {"max": 3}}}), "not allowed for a enum"),
    (lambda d: fn(d, "move").__setitem__("policy", {"args": {"distance_m": {"min": 5, "max": 1}}}),
     "min 5 is greater than max 1"),
    (lambda d: fn(d, "stop").__setitem__("policy", {"stop": True, "rate_limit": {"max_calls": 1, "window_s": 1}}),
     "the stop function is never rate-limited"),
    (lambda d: fn(d, "stop").__setitem__("policy", {"stop": True, "requires_confirmation": True}),
     "remove requires_confirmation"),
    (lambda d: fn(d, "turn").__setitem__("policy", {"phrases": ["x"]}), "only allowed together with stop"),
    (lambda d: fn(d, "turn").__setitem__("policy", {"stop": True}), "required arguments"),
    (lambda d: fn(d, "follow_person").__setitem__("policy", {"stop": True}), "more than one stop function"),
    (lambda d: d["default_policy"].__setitem__("args", {}), "default_policy.args: only allowed"),
])
def test_bad_policies_are_reported_with_their_path(change, expected):
    with pytest.raises(PolicyError) as info:
        load_policies(registry_with(change))
    assert expected in str(info.value)


@pytest.mark.parametrize("overlay, expected", [
    ({"functions": {"no_such": {"enabled": False}}}, "functions.no_such: no function"),
    ({"default_policy": {"min_confidence": 2}}, "default_policy.min_confidence"),
    ({"default_policy": {"typo": 1}}, "Additional properties"),
    ({"functions": {"move": {"rate_limit": {"max_calls": 0, "window_s": 1}}}}, "functions.move.rate_limit"),
])
def test_bad_overlays_are_reported(overlay, expected):
    with pytest.raises(PolicyError) as info:
        PolicySet.from_registry(R, overlay, "o.yaml")
    assert expected in str(info.value)


def test_schema_rejects_a_malformed_policy_in_the_functions_file():
    from octopus_ros.actions import RegistryError
    with pytest.raises(RegistryError, match="policy"):
        registry_with(lambda d: fn(d, "move").__setitem__("policy", {"without_image": "maybe"}))


# ---- the gate --------------------------------------------------------------------------------------------
def gate(overlay=None, clock=None):
    return PolicyGate(PolicySet.from_registry(R, overlay) if overlay else P, clock or Clock())


def test_gate_decisions_in_order():
    g = gate({"functions": {"turn": {"enabled": False}}})
    assert g.admit("turn", {"angle_deg": 90.0}, 0.99, True).decision == POLICY
    assert g.admit("turn_on", {"device": "lamp"}, 0.2, True).decision == LOW_CONFIDENCE
    assert g.admit("turn_on", {"device": "lamp"}, math.nan, True).decision == LOW_CONFIDENCE
    assert g.admit("turn_on", {"device": "lamp"}, 0.9, True).decision == ALLOW
    refused = g.admit("pick_up", {"object": "mug"}, 0.9, False)
    assert refused.decision == POLICY and "camera frame" in refused.reason
    assert g.admit("pick_up", {"object": "mug"}, 0.9, True).decision == ALLOW
    assert g.admit("move", {"direction": "forward", "distance_m": 50.0}, 0.9, True).decision == POLICY
    assert g.admit("move", {"direction": "forward", "distance_m": 2.0}, 0.9, True).decision == ALLOW
    assert g.admit("amazon_shopping", {"product": "x", "category": "y"}, 0.9, True).decision == CONFIRM
    assert g.admit("move", {"direction": "up"}, 0.9, True).decision == POLICY  # schema check, defence in depth
    assert g.admit("no_such_function", {}, 1.0, True).decision == POLICY


def test_stop_is_never_rate_limited_or_confidence_gated():
    g = gate()
    assert all(g.admit("stop", {}, 0.0, False, now=float(i) / 1000).decision == ALLOW for i in range(1000))


def test_rate_limit_window_and_refusals_do_not_count():
    clock = Clock()
    g = gate(clock=clock)
    call = ("send_email", {"recipient": "a", "subject": "b", "body": "c"})
    assert [g.admit(*call, 0.9, True).decision for _ in range(7)] == [CONFIRM] * 5 + [POLICY] * 2
    assert g.admit(call[0], call[1], 0.1, True).decision == LOW_CONFIDENCE  # not counted either
    clock.t += 599.0
    assert g.admit(*call, 0.9, True).decision == POLICY
    clock.t += 1.5
    assert g.admit(*call, 0.9, True).decision == CONFIRM


@SETTINGS
@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=80).map(sorted),
       st.integers(1, 6), st.floats(0.5, 30))
def test_rate_limit_never_admits_more_than_max_calls_in_any_window(times, max_calls, window):
    ps = PolicySet.from_registry(R, {"functions": {"turn_on": {"rate_limit": {"max_calls": max_calls,
                                                                              "window_s": window}}}})
    g = PolicyGate(ps)
    admitted = [t for t in times if g.admit("turn_on", {"device": "x"}, 1.0, True, now=t).admitted]
    for t in admitted:
        assert sum(1 for u in admitted if t <= u < t + window) <= max_calls
    assert admitted and admitted[0] == times[0]


@SETTINGS
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(-50, 50), st.floats(0, 50))
def test_numeric_rule_admits_exactly_the_values_in_range(value, lo, span):
    hi = lo + span
    ps = PolicySet.from_registry(R, {"default_policy": {"min_confidence": 0},
                                     "functions": {"turn": {"args": {"angle_deg": {"min": lo, "max": hi}}}}})
    verdict = PolicyGate(ps).admit("turn", {"angle_deg": value}, 1.0, True)
    in_schema = math.isfinite(value) and -360 <= value <= 360 and not R.validate_arguments("turn", {"angle_deg": value})
    assert verdict.admitted == (in_schema and lo <= value <= hi), (value, lo, hi, verdict)


@SETTINGS
@given(st.text(max_size=20), st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4),
       st.lists(st.text(min_size=1, max_size=3), max_size=3))
def test_string_allow_and_deny_lists(value, allow, deny):
    ps = PolicySet.from_registry(R, {"default_policy": {"min_confidence": 0}, "functions": {
        "turn_on": {"args": {"device": {"allow": allow, **({"deny": deny} if deny else {})}}}}})
    verdict = PolicyGate(ps).admit("turn_on", {"device": value}, 1.0, True)
    valid = not R.validate_arguments("turn_on", {"device": value})
    allowed = value.strip().casefold() in {a.casefold() for a in allow}
    denied = any(d.casefold() in value.casefold() for d in deny)
    assert verdict.admitted == (valid and allowed and not denied), (value, allow, deny, verdict)


@SETTINGS
@given(st.sampled_from(R.names), st.floats(0, 1), st.booleans(), st.dictionaries(st.text(max_size=5), st.integers()))
def test_gate_never_raises_and_never_admits_invalid_arguments(name, confidence, image, junk):
    verdict = gate().admit(name, junk, confidence, image)
    if R.validate_arguments(name, junk):
        assert not verdict.admitted or name == "stop"


# ---- stop phrases ------------------------------------------------------------------------------------------
def test_stop_matcher():
    m = StopMatcher.from_policies(P)
    for text in ["stop", "STOP!", " Stop. ", "停下", "停下！", "halt right now", "Emergency stop!!", "马上停止"]:
        assert m.matches(text), text
    for text in ["stop the music", "don't stop", "stopwatch", "go", "", "停止播放音乐"]:
        assert not m.matches(text), text


def test_no_fast_path_when_stop_is_disabled():
    assert StopMatcher.from_policies(PolicySet.from_registry(R, {"functions": {"stop": {"enabled": False}}})) is None


@SETTINGS
@given(st.text(max_size=100))
def test_normalize_is_idempotent_and_matching_never_raises(text):
    assert normalize(normalize(text)) == normalize(text)
    m = StopMatcher.from_policies(P)
    if m.matches(text):
        assert len(text) <= 60 and normalize(text) in m.phrases
