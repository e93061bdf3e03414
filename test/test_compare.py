"""`octopus-ros compare`: two prediction files on the same case file, paired by case id, on hand-built cases
with known answers."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from octopus_ros.training.cases import CaseFileError, read_cases
from octopus_ros.training.compare import compare
from octopus_ros.training.metrics import difference_intervals, judge


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    """10 templates x 3 stop commands and one no_action phrasing (3 cases). The baseline misses template 0
    (answers no_action); the candidate gets template 0 right but misses templates 1 and 2 and acts on the
    negatives."""
    cases, base, cand = [], [], []
    for t in range(11):
        for k in range(3):
            i = f"{t}-{k}"
            function = "stop" if t < 10 else "no_action"
            cases.append({"id": i, "lang": "en", "text": f"halt {t}", "image": None,
                          "expected": {"function": function, "arguments": {}}, "tags": ["typo"] if t == 1 else [],
                          "meta": {"template": f"stop.en.{t}"}})
            base.append({"id": i, "function": "no_action" if t in (0, 10) else "stop", "arguments": {}})
            cand.append({"id": i, "function": "no_action" if t in (1, 2) else "stop", "arguments": {}})
    return (write_jsonl(tmp_path / "cases.jsonl", cases), write_jsonl(tmp_path / "base.jsonl", base),
            write_jsonl(tmp_path / "cand.jsonl", cand))


def test_differences_are_paired_and_known(files):
    cases_path, base_path, cand_path = files
    cases = read_cases(cases_path)
    rows = {p.name: {r["id"]: r for r in map(json.loads, p.read_text().splitlines())} for p in (base_path, cand_path)}
    judged = [[judge(c, rows[p.name][c.id], "no_action") for c in cases] for p in (base_path, cand_path)]
    diff = difference_intervals(cases, *judged)
    exact = diff["metrics"]["exact match"]
    assert (exact["baseline"], exact["candidate"]) == (pytest.approx(30 / 33), pytest.approx(24 / 33))
    assert exact["difference"] == pytest.approx(-6 / 33)
    assert exact["low"] < exact["difference"] < exact["high"] and exact["low"] < -0.3   # 11 templates: wide
    assert diff["groups"] == 11 and diff["metrics"]["no_action recall"]["candidate"] == 0.0
    same = difference_intervals(cases, judged[0], judged[0])["metrics"]["exact match"]
    assert same["difference"] == same["low"] == same["high"] == 0.0   # paired: no spread from shared errors


def test_report(files):
    cases_path, base_path, cand_path = files
    report = compare(cases_path, base_path, cand_path, top=1)
    assert "compared on 33 cases" in report and "left out" not in report
    assert "| exact match | 0.909 (n=33) | 0.727 (n=33) | -0.182" in report
    assert "| tag:typo | 3 | 1.000 | 0.000 |" in report
    assert "3 cases right only with the candidate, 9 only with the baseline" in report
    # top=1 each way: one of the two lost templates (the first in order), the gained one; the negatives changed too
    assert "-3 of 3  template:stop.en.1: 'halt 1' expected stop(); baseline stop(); candidate no_action()" in report
    assert "template:stop.en.2" not in report
    assert "+3 of 3  template:stop.en." in report


def test_cases_missing_from_a_file_are_left_out_and_said(files, tmp_path):
    cases_path, base_path, cand_path = files
    short = write_jsonl(tmp_path / "short.jsonl", [json.loads(l) for l in cand_path.read_text().splitlines()][:30])
    assert "compared on 30 cases" in compare(cases_path, base_path, short)
    assert "(3 left out: not in both prediction files)" in compare(cases_path, base_path, short)
    empty = write_jsonl(tmp_path / "other.jsonl", [{"id": "x", "function": "stop", "arguments": {}}])
    with pytest.raises(CaseFileError, match="no case"):
        compare(cases_path, base_path, empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "0-0"}\n')
    with pytest.raises(CaseFileError, match="bad.jsonl:1: not a valid prediction line"):
        compare(cases_path, base_path, bad)


def test_command_line(files, tmp_path):
    cases_path, base_path, cand_path = files
    run = lambda *extra: subprocess.run([sys.executable, "-m", "octopus_ros.cli", "compare", "--cases", str(cases_path),
                                        "--baseline", str(base_path), *extra], capture_output=True, text=True)
    ok = run("--candidate", str(cand_path))
    assert ok.returncode == 0 and "| exact match |" in ok.stdout, ok.stderr
    missing = run("--candidate", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "error: cannot read" in missing.stderr


def test_slices_without_cases_are_left_out(tmp_path):
    """The real-photo set has no text-only case: its row is left out instead of dividing by zero."""
    cases = [{"id": str(i), "lang": "en", "text": "what is this", "image": f"p{i}.jpg",
              "expected": {"function": "find_object", "arguments": {"object": "cat"}}, "meta": {"photo": f"p{i}"}}
             for i in range(3)]
    preds = [{"id": str(i), "function": "find_object", "arguments": {"object": "cat" if i else "dog"}} for i in range(3)]
    report = compare(write_jsonl(tmp_path / "c.jsonl", cases), write_jsonl(tmp_path / "a.jsonl", preds),
                     write_jsonl(tmp_path / "b.jsonl", preds))
    assert "| all | 3 | 0.667 | 0.667 |" in report and "text only" not in report
    assert "resampling the 3 photos alike" in report and "0 cases right only with the candidate, 0 only" in report
