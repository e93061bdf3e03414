"""Evaluation metrics over (case, prediction) pairs: accuracy, exact match, argument F1, latency."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np


def _norm(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip().lower()
    return value


def argument_pairs(arguments: dict) -> set:
    return {(k, _norm(v)) for k, v in (arguments or {}).items()}


@dataclass(frozen=True)
class Judged:
    """One prediction against its case: what every metric counts."""
    function_ok: bool
    exact: bool
    image_arg_ok: bool      # every argument only the picture tells is right (vacuous without such arguments)
    is_no_action: bool      # the case expects no_action
    said_no_action: bool    # the prediction is no_action


def judge(case, pred: dict, no_action_name: str) -> Judged:
    function_ok = pred["function"] == case.function
    return Judged(function_ok=function_ok,
                  exact=function_ok and argument_pairs(pred["arguments"]) == argument_pairs(case.arguments),
                  image_arg_ok=function_ok and all(_norm(pred["arguments"].get(a)) == _norm(case.arguments.get(a))
                                                   for a in case.image_args),
                  is_no_action=case.function == no_action_name, said_no_action=pred["function"] == no_action_name)


def summarize(cases, predictions, no_action_name: str, intervals: bool = False) -> dict:
    """cases: list[Case]; predictions: list[dict] with function, arguments, latency_ms (same order). `intervals`:
    add the target metrics' bootstrap intervals (target_intervals)."""
    groups = defaultdict(lambda: Counter())
    confusions = Counter()
    latencies = defaultdict(list)
    na = Counter()
    judged = [judge(case, pred, no_action_name) for case, pred in zip(cases, predictions)]
    for case, pred, j in zip(cases, predictions, judged):
        keys = ["all", f"lang:{case.lang}", f"function:{case.function}"] + [f"tag:{t}" for t in case.tags]
        if "image" in case.tags and "heldout_object" in case.tags:
            keys.append("image+heldout_object")
        expected, got = argument_pairs(case.arguments), argument_pairs(pred["arguments"]) if j.function_ok else set()
        for key in keys:
            g = groups[key]
            g["n"] += 1
            g["function_ok"] += j.function_ok
            g["exact"] += j.exact
            g["arg_tp"] += len(expected & got)
            g["arg_fp"] += len(got - expected)
            g["arg_fn"] += len(expected - got)
            if case.image_args:   # was the argument that only the picture tells read correctly?
                g["image_arg_n"] += 1
                g["image_arg_ok"] += j.image_arg_ok
        if not j.function_ok:
            confusions[(case.function, pred["function"])] += 1
        latencies["image" if case.image else "text"].append(pred.get("latency_ms", 0.0))
        na["tp"] += j.is_no_action and j.said_no_action
        na["fp"] += j.said_no_action and not j.is_no_action
        na["fn"] += j.is_no_action and not j.said_no_action
    table = {}
    for key, g in groups.items():
        precision = g["arg_tp"] / max(1, g["arg_tp"] + g["arg_fp"])
        recall = g["arg_tp"] / max(1, g["arg_tp"] + g["arg_fn"])
        table[key] = {"n": g["n"], "function_accuracy": g["function_ok"] / g["n"], "exact_match": g["exact"] / g["n"],
                      "argument_f1": 2 * precision * recall / max(1e-9, precision + recall) if g["arg_tp"] else
                      (1.0 if g["arg_fp"] + g["arg_fn"] == 0 else 0.0),
                      "image_arg_accuracy": g["image_arg_ok"] / g["image_arg_n"] if g["image_arg_n"] else None}
    latency = {k: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)), "n": len(v)}
               for k, v in latencies.items() if v}
    return {"groups": table, "confusions": confusions.most_common(15), "latency_ms": latency,
            "no_action": {"precision": na["tp"] / max(1, na["tp"] + na["fp"]),
                          "recall": na["tp"] / max(1, na["tp"] + na["fn"])},
            "intervals": target_intervals(cases, judged) if intervals else None}


def _target_columns(cases, judged: list[Judged]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per target metric, a numerator and a denominator for every case (a ratio of their sums is the metric)."""
    columns = {"function accuracy (en)": [], "function accuracy (zh)": [], "exact match": [],
               "no_action precision": [], "no_action recall": [], "image-derived arg, held-out objects": []}
    for case, j in zip(cases, judged):
        new_object = "image" in case.tags and "heldout_object" in case.tags and bool(case.image_args)
        caught = j.is_no_action and j.said_no_action
        columns["function accuracy (en)"].append((j.function_ok and case.lang == "en", case.lang == "en"))
        columns["function accuracy (zh)"].append((j.function_ok and case.lang == "zh", case.lang == "zh"))
        columns["exact match"].append((j.exact, True))
        columns["no_action precision"].append((caught, j.said_no_action))
        columns["no_action recall"].append((caught, j.is_no_action))
        columns["image-derived arg, held-out objects"].append((new_object and j.image_arg_ok, new_object))
    return {name: tuple(np.array(column, dtype=float) for column in zip(*pairs)) for name, pairs in columns.items()}


class _GroupBootstrap:
    """Resampling whole groups (Case.group: a generated case's template, a real-photo case's photo) rather than
    cases: every case of a held-out phrasing tends to be right or wrong with the others (session 20: the 48
    no_action errors of the test split came from 30 templates, 5 from one), so the cases are not independent draws
    and a per-case interval would be too narrow. A case without a group is one of its own."""

    def __init__(self, cases, resamples: int, seed: int):
        names = sorted({case.group or f"case:{case.id}" for case in cases})
        index = {g: i for i, g in enumerate(names)}
        self.n_groups, self.resamples = len(names), resamples
        self.member = np.array([index[case.group or f"case:{case.id}"] for case in cases])
        rng = np.random.default_rng(seed)
        self.weights = rng.multinomial(len(names), np.full(len(names), 1 / len(names)), size=resamples)
        self.kind = " and ".join(sorted({case.group.split(":", 1)[0] + "s" for case in cases if case.group}))

    def ratios(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        """The metric in every resample (nan where a resample has no denominator)."""
        num, den = (np.bincount(self.member, weights=c, minlength=self.n_groups) for c in (num, den))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.weights @ num) / (self.weights @ den)

    def header(self) -> dict:
        return {"groups": self.n_groups, "kind": self.kind, "resamples": self.resamples}


def target_intervals(cases, judged: list[Judged], resamples: int = 1000, seed: int = 0) -> dict | None:
    """95 % intervals of the issue's target metrics, from a bootstrap that resamples whole groups (_GroupBootstrap).
    None when no case has a group."""
    if not any(case.group for case in cases):
        return None
    boot = _GroupBootstrap(cases, resamples, seed)
    out = {}
    for name, (num, den) in _target_columns(cases, judged).items():
        if not den.sum():
            continue
        low, high = np.nanpercentile(boot.ratios(num, den), [2.5, 97.5])
        out[name] = {"value": float(num.sum() / den.sum()), "low": float(low), "high": float(high),
                     "n": int(den.sum())}
    return {**boot.header(), "metrics": out}


def difference_intervals(cases, baseline: list[Judged], candidate: list[Judged], resamples: int = 1000,
                         seed: int = 0) -> dict:
    """Each target metric of two sets of predictions on the same cases, and a 95 % interval of the difference
    (candidate - baseline) from one group bootstrap that resamples both alike (paired): the templates both got
    wrong do not widen it. The interval is over cases, not over retrains: a training change's run-to-run spread is
    not in it (docs/model/evaluation.md, Session 24)."""
    boot = _GroupBootstrap(cases, resamples, seed)
    columns = (_target_columns(cases, baseline), _target_columns(cases, candidate))
    out = {}
    for name in columns[0]:
        (num_a, den_a), (num_b, den_b) = columns[0][name], columns[1][name]
        if not den_a.sum() or not den_b.sum():
            continue
        low, high = np.nanpercentile(boot.ratios(num_b, den_b) - boot.ratios(num_a, den_a), [2.5, 97.5])
        a, b = num_a.sum() / den_a.sum(), num_b.sum() / den_b.sum()
        out[name] = {"baseline": float(a), "candidate": float(b), "difference": float(b - a),
                     "low": float(low), "high": float(high), "n": (int(den_a.sum()), int(den_b.sum()))}
    return {**boot.header(), "metrics": out}


def format_report(summary: dict) -> str:
    lines = ["| group | n | function acc | exact match | argument F1 | image-derived arg |",
             "|---|---|---|---|---|---|"]
    order = sorted(summary["groups"], key=lambda k: (k != "all", not k.startswith("lang:"),
                                                     not k.startswith(("tag:", "image+")), k))
    for key in order:
        g = summary["groups"][key]
        image_arg = "" if g["image_arg_accuracy"] is None else f"{g['image_arg_accuracy']:.3f}"
        lines.append(f"| {key} | {g['n']} | {g['function_accuracy']:.3f} | {g['exact_match']:.3f} | "
                     f"{g['argument_f1']:.3f} | {image_arg} |")
    na = summary["no_action"]
    lines.append(f"\nno_action precision {na['precision']:.3f}, recall {na['recall']:.3f}")
    intervals = summary.get("intervals")
    if intervals:
        lines.append(f"95% intervals, resampling the {intervals['groups']} {intervals['kind']} the cases come from "
                     f"({intervals['resamples']} resamples):")
        lines += [f"  {name}: {m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}] (n={m['n']})"
                  for name, m in intervals["metrics"].items()]
    for kind, lat in summary["latency_ms"].items():
        lines.append(f"latency ({kind}, n={lat['n']}): p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms")
    if summary["confusions"]:
        lines.append("\nmost frequent confusions (expected -> predicted: count):")
        lines += [f"  {e} -> {p}: {c}" for (e, p), c in summary["confusions"]]
    return "\n".join(lines)
