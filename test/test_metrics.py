"""Evaluation metrics: function accuracy, exact match, argument F1, image-derived argument accuracy,
no_action precision/recall, on hand-built cases with known answers."""
from __future__ import annotations

import pytest

from octopus_ros.training.cases import Case, read_cases
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
    assert summarize(cases, preds, "no_action", intervals=True)["intervals"] is None   # no group to resample


def templated(n_templates, per_template, wrong_templates):
    """n_templates x per_template stop commands; every case of the first `wrong_templates` templates is answered
    with no_action."""
    cases, preds = [], []
    for t in range(n_templates):
        for k in range(per_template):
            i = t * per_template + k
            cases.append(Case(id=str(i), lang="en", text="t", image=None, function="stop", arguments={},
                              group=f"template:stop.en.{t}"))
            preds.append(pred(i, "no_action" if t < wrong_templates else "stop", {}))
    return cases, preds


def test_intervals_resample_templates():
    cases, preds = templated(10, 4, 1)   # 4 of 40 wrong, all from one phrasing
    s = summarize(cases, preds, "no_action", intervals=True)
    m = s["intervals"]["metrics"]["function accuracy (en)"]
    assert s["intervals"]["groups"] == 10
    assert m["value"] == pytest.approx(0.9) and m["n"] == 40
    assert m["low"] <= m["value"] <= m["high"] <= 1.0
    assert summarize(cases, preds, "no_action", intervals=True)["intervals"] == s["intervals"]   # a fixed seed
    assert "function accuracy (zh)" not in s["intervals"]["metrics"]            # no Chinese case
    assert "95% intervals, resampling the 10 templates" in format_report(s)


def test_errors_from_one_template_are_less_certain_than_the_same_errors_spread():
    clustered = summarize(*templated(10, 4, 1), "no_action", intervals=True)["intervals"]["metrics"]["exact match"]
    spread = summarize(*templated(40, 1, 4), "no_action", intervals=True)["intervals"]["metrics"]["exact match"]
    assert clustered["value"] == spread["value"] == pytest.approx(0.9)
    assert clustered["high"] - clustered["low"] > 1.5 * (spread["high"] - spread["low"])


def test_case_files_carry_the_template_or_photo(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a", "lang": "en", "text": "stop", "image": null, "expected": {"function": "stop"}, '
                    '"meta": {"template": "stop.en.1"}}\n'
                    '{"id": "b", "lang": "en", "text": "halt", "image": null, "expected": {"function": "stop"}}\n'
                    '{"id": "c", "lang": "en", "text": "stop", "image": null, "expected": {"function": "stop"}, '
                    '"meta": {"photo": "dog"}}\n')
    assert [c.group for c in read_cases(path)] == ["template:stop.en.1", "", "photo:dog"]
