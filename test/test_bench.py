"""`octopus-ros bench --quick`: runs every part of the benchmark (both precisions, the prompted JSON
baseline in both prompt modes, the ROS end-to-end load test with the node as a real process) with the
tiny random model, and checks the report's structure: required sections, plots, finite numbers.
About 80 s on an idle 2-core machine (several model-loading processes one after the other); the
generous timeout is for a machine shared with other jobs.

Also unit tests of the baseline's JSON grammar (no model needed)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from ros_helpers import REPO, ros_subprocess_env


# ---- the JSON call grammar of the baseline --------------------------------------------------------
@pytest.fixture(scope="module")
def registry():
    from octopus_ros.actions import ActionRegistry
    from octopus_ros.actions.registry import default_path

    return ActionRegistry.from_yaml(default_path())


def _feed_all(grammar, text):
    state = grammar.start()
    for ch in text:
        state = grammar.feed(state, ch)
        if state is None:
            return None
    return state


def test_json_grammar_accepts_every_functions_yaml_example(registry):
    from octopus_ros.bench.json_grammar import JsonCallGrammar, parse_json_call

    grammar = JsonCallGrammar(registry)
    for f in registry.functions:
        for ex in f.examples:
            given = {a.name: ex["arguments"][a.name] for a in f.args if a.name in ex["arguments"]}
            normal = registry.normalize_arguments(f.name, ex["arguments"])
            given = {k: normal[k] for k in given}
            text = json.dumps({"function": f.name, "arguments": given}, ensure_ascii=False)
            state = _feed_all(grammar, text)
            assert state is not None and grammar.complete(state), text
            name, arguments, problem = parse_json_call(registry, text)
            assert (name, arguments, problem) == (f.name, normal, ""), text


@pytest.mark.parametrize("text", [
    '{"function": "fly"',                                                    # not a function name
    '{"function": "move", "arguments": {}}',                                 # required argument missing
    '{"function": "move", "arguments": {"distance_m": 3',                    # wrong order / missing required
    '{"function": "move", "arguments": {"direction": "up"',                  # not an enum value
    '{"function": "move", "arguments": {"direction": "left", "distance_m": 300',  # out of range
    '{"function": "move", "arguments": {"direction": "left"}} ',             # nothing after the call
    '{"function":"move"',                                                    # separators are fixed
])
def test_json_grammar_rejects(registry, text):
    from octopus_ros.bench.json_grammar import JsonCallGrammar

    assert _feed_all(JsonCallGrammar(registry), text) is None


def test_json_grammar_forces_structure_and_unique_name_rest(registry):
    from octopus_ros.bench.json_grammar import JsonCallGrammar

    grammar = JsonCallGrammar(registry)
    assert grammar.forced(grammar.start()) == '{"function": "'
    state = _feed_all(grammar, '{"function": "navigate_t')
    forced = grammar.forced(state)
    assert forced.startswith('o", "arguments": {"location": "')
    state = grammar.feed(state, forced + "kitchen")
    assert grammar.forced(state) == ""  # inside a free string: nothing is forced
    state = grammar.feed(state, '"')
    assert grammar.forced(state) == "}}"
    assert grammar.complete(grammar.feed(state, "}}"))


def test_baseline_prompt_lists_every_function(registry):
    from octopus_ros.bench.baseline import build_prompt_prefix, pick_examples

    prefix = build_prompt_prefix(registry, 12)
    for f in registry.functions:
        assert f'"name": "{f.name}"' in prefix
    assert len(pick_examples(registry, 12)) == 12
    assert any('"no_action"' in call for _, call in pick_examples(registry, 12))
    assert prefix.endswith("Command:")


# ---- the whole benchmark, quick mode ------------------------------------------------------------------
def _numbers(value, path="$"):
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{path}[{i}]")


@pytest.mark.ros
@pytest.mark.slow
def test_bench_quick_writes_a_complete_report(tmp_path, ros_domain_id):
    pytest.importorskip("rclpy")
    pytest.importorskip("matplotlib")
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, "-m", "octopus_ros.cli", "bench", "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, env=ros_subprocess_env(), timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    from octopus_ros.bench.report import REQUIRED_SECTIONS

    report = (out / "report.md").read_text(encoding="utf-8")
    for section in REQUIRED_SECTIONS:
        assert section in report, section
    for png in ("stages.png", "latency.png", "accuracy.png", "e2e.png"):
        assert (out / png).stat().st_size > 1000, png
        assert f"({png})" in report

    data = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert "NaN" not in (out / "bench.json").read_text(encoding="utf-8")
    for path, number in _numbers(data):
        assert math.isfinite(number), path
    assert data["variant_order"][:2] == ["octopus_fp32", "octopus_int8"]  # tiny-random is fp32 by profile
    assert {"baseline_cached", "baseline_cold"} <= set(data["summaries"])
    for key, summary in data["summaries"].items():
        assert summary["n"] > 0, key
        assert summary["latency_ms"]["model"]["p50"] > 0, key
        assert 0.0 <= summary["accuracy"]["all"]["function_accuracy"] <= 1.0
        assert {"prefill", "decode", "parse"} <= set(summary["stages_ms"]), key
    stages = data["summaries"]["octopus_fp32"]["stages_ms"]
    if "image_preprocess" in stages or "image_convert" in stages:   # the quick sample held an image case
        assert "image_encode" in stages
    assert data["summaries"]["baseline_cold"]["tokens"]["computed_tokens"]["mean"] > \
        data["summaries"]["baseline_cached"]["tokens"]["computed_tokens"]["mean"]
    # end to end through the node process: three rates, every command accounted for
    assert not data["e2e_error"], data["e2e_error"]
    assert [row["rate_hz"] for row in data["e2e_summary"]] == [1.0, 5.0, 10.0]
    for phase in data["e2e"]["phases"]:
        assert phase["all_answered"], phase["rate_hz"]
        assert phase["frames_published"] > 0
        assert all(r["outcome"] != "no_answer" for r in phase["requests"])
    for worker in data["workers"].values():
        assert worker["peak_rss_mb"] > 0 and worker["load_s"] > 0
    assert data["headline"]["lines"]
