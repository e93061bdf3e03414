"""`octopus-ros eval` over a case file: which cases a tag filter keeps, and what it refuses. Tiny random model
of the real architecture, in-process."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
from octopus_ros.model import OctopusAgent  # noqa: E402
from octopus_ros.training.cases import CaseFileError, cases_digest, read_cases  # noqa: E402
from octopus_ros.training.evaluate import eval_file  # noqa: E402

CASES = [
    ("a", "set a timer for five minutes", "set_timer", {"hours": 0, "minutes": 5, "seconds": 0}, ["number"]),
    ("b", "turn on the kitchen light", "turn_on", {"device": "light", "area": "kitchen"}, []),
    ("c", "音量调到四十", "set_volume", {"level": 40}, ["number", "numeral"]),
]


@pytest.fixture(scope="module")
def agent():
    return OctopusAgent.load("tiny-random", threads=2)


@pytest.fixture
def case_file(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({"id": i, "lang": "zh" if "音" in t else "en", "text": t, "image": None,
                                        "expected": {"function": f, "arguments": a}, "tags": tags}) + "\n"
                            for i, t, f, a, tags in CASES), encoding="utf-8")
    return path


@pytest.mark.parametrize("tags,skip,ids", [
    ((), (), ["a", "b", "c"]),
    (("number",), (), ["a", "c"]),
    (("number", "numeral"), (), ["c"]),      # every tag given
    (("number",), ("numeral",), ["a"]),      # none of the skipped ones
])
def test_tag_filters_choose_the_cases(agent, case_file, tmp_path, tags, skip, ids):
    out = tmp_path / "pred.jsonl"
    eval_file(agent, case_file, out, tags=tags, skip_tags=skip)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ids


def test_a_filter_that_keeps_nothing_is_an_error(agent, case_file):
    with pytest.raises(CaseFileError, match="no case has the tags"):
        eval_file(agent, case_file, None, tags=("image",))


def test_the_report_gives_intervals_when_cases_name_their_templates(agent, tmp_path):
    path = tmp_path / "templated.jsonl"
    path.write_text("".join(json.dumps({"id": i, "lang": "en", "text": t, "image": None,
                                        "expected": {"function": f, "arguments": a},
                                        "meta": {"template": f"{f}.en.1"}}) + "\n"
                            for i, t, f, a, _ in CASES[:2]), encoding="utf-8")
    report = eval_file(agent, path, None)
    assert "95% intervals, resampling the 2 templates" in report and "exact match:" in report


def test_the_report_names_the_cases_by_their_digest(agent, case_file):
    report = eval_file(agent, case_file, None)
    assert report.startswith(f"cases: 3 from {case_file}, sha256 {cases_digest(read_cases(case_file))}\n")


def test_the_digest_changes_with_an_expected_call_or_an_image_byte(tmp_path):
    from PIL import Image
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "frame.png")
    row = {"id": "a", "lang": "en", "text": "pick this up", "image": "frame.png",
           "expected": {"function": "pick_up", "arguments": {"object": "apple"}}, "meta": {"template": "t1"}}
    path = tmp_path / "cases.jsonl"

    def digest(**changes):
        path.write_text(json.dumps({**row, **changes}) + "\n", encoding="utf-8")
        return cases_digest(read_cases(path))

    before = digest()
    assert digest(meta={"template": "t2"}) == before          # what is measured only
    assert digest(expected={"function": "pick_up", "arguments": {"object": "pear"}}) != before
    Image.new("RGB", (8, 8), (200, 10, 11)).save(tmp_path / "frame.png")
    assert digest() != before
    (tmp_path / "frame.png").unlink()
    with pytest.raises(CaseFileError, match="case a: cannot read its image"):
        digest()
