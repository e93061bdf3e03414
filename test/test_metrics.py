"""Evaluation metrics: function accuracy, exact match, argument F1, image-derived argument accuracy,
no_action precision/recall, on hand-built cases with known answers."""
from __future__ import annotations

import pytest

from octopus_ros.training.cases import Case
from octopus_ros.training.metrics import format_report, summarize


def case(i, function, arguments, lang="en", tags=(), image_args=()):
    return Case(id=str(i), lang=lang, text="t", image=None, function=function, arguments=arguments,
                tags=tuple(tags), image_args=tuple(image_args))


def pred(i, function, arguments):
    return {"id": str(i), "function": function, "arguments": arguments, "latency_ms": 10.0 * (1 + int(i))}


def test_known_answers():
    cases = [case(0, "pick_up", {"object": "mug"}, tags=["image", "heldout_object"], image_args=["object"]),
             case(1, "pick_up", {"object": "cup"}, tags=["image", "heldout_object"], image_args=["object"]),
             case(2, "move", {"direction": "forward", "distance_m": 10.0}, lang="zh"),
             case(3, "no_action", {}),
             case(4, "stop", {})]
    preds = [pred(0, "pick_up", {"object": " Mug"}),             # normalised: correct
             pred(1, "pick_up", {"object": "bottle"}),           # right function, wrong image-derived value
             pred(2, "move", {"direction": "forward", "distance_m": 10}),
             pred(3, "no_action", {}),
             pred(4, "no_action", {})]                          # swallowed a real command
    s = summarize(cases, preds, "no_action")
    g = s["groups"]
    assert g["all"]["function_accuracy"] == pytest.approx(4 / 5)
    assert g["all"]["exact_match"] == pytest.approx(3 / 5)
    assert g["image+heldout_object"]["n"] == 2
    assert g["image+heldout_object"]["image_arg_accuracy"] == pytest.approx(0.5)
    assert g["lang:zh"]["exact_match"] == 1.0
    assert g["lang:en"]["image_arg_accuracy"] == pytest.approx(0.5)
    assert g["function:move"]["image_arg_accuracy"] is None
    assert s["no_action"] == {"precision": 0.5, "recall": 1.0}
    assert ("stop", "no_action") in dict(s["confusions"])
    report = format_report(s)
    assert "| image+heldout_object | 2 |" in report and "image-derived arg" in report
