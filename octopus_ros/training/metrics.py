"""Evaluation metrics over (case, prediction) pairs: accuracy, exact match, argument F1, latency."""
from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np


def _norm(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip().lower()
    return value


def argument_pairs(arguments: dict) -> set:
    return {(k, _norm(v)) for k, v in (arguments or {}).items()}


def summarize(cases, predictions, no_action_name: str) -> dict:
    """cases: list[Case]; predictions: list[dict] with function, arguments, latency_ms (same order)."""
    groups = defaultdict(lambda: Counter())
    confusions = Counter()
    latencies = defaultdict(list)
    na = Counter()
    for case, pred in zip(cases, predictions):
        keys = ["all", f"lang:{case.lang}", f"function:{case.function}"] + [f"tag:{t}" for t in case.tags]
        if "image" in case.tags and "heldout_object" in case.tags:
            keys.append("image+heldout_object")
        ok_function = pred["function"] == case.function
        exact = ok_function and argument_pairs(pred["arguments"]) == argument_pairs(case.arguments)
        expected, got = argument_pairs(case.arguments), argument_pairs(pred["arguments"]) if ok_function else set()
        for key in keys:
            g = groups[key]
            g["n"] += 1
            g["function_ok"] += ok_function
            g["exact"] += exact
            g["arg_tp"] += len(expected & got)
            g["arg_fp"] += len(got - expected)
            g["arg_fn"] += len(expected - got)
            if case.image_args:   # was the argument that only the picture tells read correctly?
                g["image_arg_n"] += 1
                g["image_arg_ok"] += ok_function and all(
                    _norm(pred["arguments"].get(a)) == _norm(case.arguments.get(a)) for a in case.image_args)
        if not ok_function:
            confusions[(case.function, pred["function"])] += 1
        latencies["image" if case.image else "text"].append(pred.get("latency_ms", 0.0))
        is_na, said_na = case.function == no_action_name, pred["function"] == no_action_name
        na["tp"] += is_na and said_na
        na["fp"] += said_na and not is_na
        na["fn"] += is_na and not said_na
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
                          "recall": na["tp"] / max(1, na["tp"] + na["fn"])}}


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
    for kind, lat in summary["latency_ms"].items():
        lines.append(f"latency ({kind}, n={lat['n']}): p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms")
    if summary["confusions"]:
        lines.append("\nmost frequent confusions (expected -> predicted: count):")
        lines += [f"  {e} -> {p}: {c}" for (e, p), c in summary["confusions"]]
    return "\n".join(lines)
