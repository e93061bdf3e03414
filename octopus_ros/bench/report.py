"""Aggregate the raw benchmark results into summaries, docs/benchmarks/report.md and PNG plots."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..training.cases import Case
from ..training.metrics import summarize

STAGES = ("image_convert", "image_preprocess", "image_encode", "tokenize", "cache_copy", "prefill", "decode",
          "parse", "publish")
STAGE_LABELS = {"image_convert": "image conversion (ROS Image -> RGB)", "image_preprocess": "image preprocess",
                "image_encode": "image encoding (tower + projector)", "tokenize": "prompt build + tokenize",
                "cache_copy": "prompt-prefix KV copy", "prefill": "prefill", "decode": "decoding",
                "parse": "parsing + validation", "publish": "publishing (FunctionCall)"}
REQUIRED_SECTIONS = ("## Summary", "## Accuracy", "## Latency by stage", "## Tokens", "## Memory and model size",
                     "## End to end through ROS", "## Method and caveats")


def pct(values, q: float) -> float:
    values = [v for v in values if v is not None]
    return float(np.percentile(values, q)) if values else 0.0


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else 0.0


# ---- summaries ----------------------------------------------------------------------------------------
def variant_summary(records: list[dict], cases_by_id: dict[str, Case], no_action: str) -> dict:
    """Accuracy (training.metrics.summarize), latency and token statistics of one variant's records."""
    cases = [cases_by_id[r["id"]] for r in records]
    preds = [{"function": r["function"], "arguments": r["arguments"], "latency_ms": r["model_ms"]} for r in records]
    acc = summarize(cases, preds, no_action) if records else {"groups": {}, "no_action": {}}
    groups = acc["groups"]

    def group(name):
        g = groups.get(name)
        return {"n": g["n"], "function_accuracy": g["function_accuracy"], "exact_match": g["exact_match"],
                "argument_f1": g["argument_f1"]} if g else {"n": 0, "function_accuracy": 0.0, "exact_match": 0.0,
                                                            "argument_f1": 0.0}

    text_records = [r for r in records if not r["has_image"]]
    text_acc = summarize([cases_by_id[r["id"]] for r in text_records],
                         [{"function": r["function"], "arguments": r["arguments"]} for r in text_records],
                         no_action)["groups"].get("all") if text_records else None
    stages = {}
    for stage in STAGES:
        values = [r["stages_ms"][stage] for r in records if stage in r["stages_ms"]]
        if values:
            stages[stage] = {"p50": pct(values, 50), "p95": pct(values, 95), "mean": _mean(values), "n": len(values)}
    pipeline = [r["model_ms"] + r["stages_ms"].get("image_convert", 0.0) + r["stages_ms"].get("publish", 0.0)
                for r in records]
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    return {
        "n": len(records),
        "accuracy": {"all": group("all"),
                     "text_only": {"n": text_acc["n"], "function_accuracy": text_acc["function_accuracy"],
                                   "exact_match": text_acc["exact_match"], "argument_f1": text_acc["argument_f1"]}
                     if text_acc else group("__none__"),
                     "image": group("tag:image"), "en": group("lang:en"), "zh": group("lang:zh"),
                     "no_action": acc.get("no_action", {})},
        "latency_ms": {"model": {"p50": pct([r["model_ms"] for r in records], 50),
                                 "p95": pct([r["model_ms"] for r in records], 95),
                                 "mean": _mean([r["model_ms"] for r in records])},
                       "model_text_only": {"p50": pct([r["model_ms"] for r in text_records], 50),
                                           "p95": pct([r["model_ms"] for r in text_records], 95)},
                       "pipeline": {"p50": pct(pipeline, 50), "p95": pct(pipeline, 95)}},
        "stages_ms": stages,
        "tokens": {k: {"mean": _mean([r.get(k) for r in records]), "p50": pct([r.get(k) for r in records], 50),
                       "max": float(max([r.get(k) or 0 for r in records] or [0]))}
                   for k in ("prompt_tokens", "generated_tokens", "forced_tokens", "computed_tokens")
                   if any(k in r for r in records)},
        "outcomes": outcomes,
    }


def paired(a: list[dict], b: list[dict], text_only: bool = False) -> dict:
    """Latency ratio b/a and accuracies of both on the cases both variants ran."""
    by_id = {r["id"]: r for r in a}
    pairs = [(by_id[r["id"]], r) for r in b if r["id"] in by_id and (not text_only or not r["has_image"])]
    if not pairs:
        return {"n": 0}
    ra, rb = [p[0]["model_ms"] for p in pairs], [p[1]["model_ms"] for p in pairs]
    return {"n": len(pairs), "p50_a": pct(ra, 50), "p50_b": pct(rb, 50), "p95_a": pct(ra, 95), "p95_b": pct(rb, 95),
            "ratio_p50": pct(rb, 50) / max(1e-9, pct(ra, 50)),
            "ratio_median_of_pairs": float(np.median([y / max(1e-9, x) for x, y in zip(ra, rb)]))}


def common_accuracy(variants: dict[str, list[dict]], ids: set[str], cases_by_id: dict, no_action: str,
                    text_only: bool) -> dict:
    out = {}
    for name, records in variants.items():
        chosen = [r for r in records if r["id"] in ids and (not text_only or not r["has_image"])]
        if not chosen:
            continue
        s = summarize([cases_by_id[r["id"]] for r in chosen],
                      [{"function": r["function"], "arguments": r["arguments"]} for r in chosen], no_action)
        g = s["groups"]["all"]
        out[name] = {"n": g["n"], "function_accuracy": g["function_accuracy"], "exact_match": g["exact_match"],
                     "argument_f1": g["argument_f1"], "p50_ms": pct([r["model_ms"] for r in chosen], 50),
                     "p95_ms": pct([r["model_ms"] for r in chosen], 95)}
    return out


def e2e_summary(e2e: dict) -> list[dict]:
    rows = []
    for phase in e2e.get("phases", []):
        reqs = phase["requests"]
        answered = [r for r in reqs if r["latency_ms"] is not None and r["outcome"] != "dropped"]
        counts: dict[str, int] = {}
        for r in reqs:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
        depths = [s["queue_depth"] for s in phase["queue_series"]]
        model = [r["inference_ms"] for r in reqs if r.get("inference_ms")]
        rows.append({
            "rate_hz": phase["rate_hz"], "commands": phase["commands"], "outcomes": counts,
            "dropped": counts.get("dropped", 0), "dropped_count_delta": phase["dropped_count_delta"],
            "no_answer": counts.get("no_answer", 0), "answered": len(answered),
            "latency_p50_ms": pct([r["latency_ms"] for r in answered], 50),
            "latency_p95_ms": pct([r["latency_ms"] for r in answered], 95),
            "model_p50_ms": pct(model, 50),
            "queue_depth_max": int(max(depths)) if depths else 0,
            "queue_depth_mean": _mean(depths),
            "throughput_hz": len(answered) / max(1e-9, phase["elapsed_s"]),
            "frames_published": phase["frames_published"], "elapsed_s": phase["elapsed_s"],
            "all_answered": phase["all_answered"]})
    return rows


# ---- markdown ---------------------------------------------------------------------------------------
def _f(x, digits=0) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:,.{digits}f}"


def _acc(g: dict) -> str:
    return f"{g['function_accuracy']:.3f} / {g['exact_match']:.3f}" if g.get("n") else "-"


def render_markdown(data: dict) -> str:
    cfg, summ, labels = data["config"], data["summaries"], data["labels"]
    order = [k for k in data["variant_order"] if k in summ]
    L = ["# Benchmarks: prompted function calling vs functional tokens", "",
         f"Generated by `octopus-ros bench{' --quick' if cfg['quick'] else ''}` on {data['environment']['date']} "
         f"(commit {data['environment']['git_commit'] or 'unknown'}, {data['environment']['cpu']}, "
         f"{data['environment']['cpus']} CPUs, torch {data['environment']['torch']} with {cfg['threads'] or 'default'} "
         f"threads; load average {data['environment'].get('load_average_1_5_15')} at the start, "
         f"{data['environment'].get('load_average_at_end')} at the end). Raw data: `{cfg['raw_json_name']}`. "
         f"Whole run: {data['wall_s']:.0f} s.", "",
         f"Model: `{cfg['model']}` ({data['model_note']}). Cases: {data['cases_note']}.", ""]
    h = data["headline"]
    L += ["## Summary", ""]
    L += [f"- {line}" for line in h["lines"]]
    L += ["", "| variant | cases | function acc / exact match (all) | text-only cases | model p50 / p95 ms "
          "| prompt tokens | tokens computed per command | peak RSS MiB |", "|---|---|---|---|---|---|---|---|"]
    for k in order:
        s = summ[k]
        w = data["workers"].get(data["worker_of"][k], {})
        L.append(f"| {labels[k]} | {s['n']} | {_acc(s['accuracy']['all'])} | {_acc(s['accuracy']['text_only'])} | "
                 f"{_f(s['latency_ms']['model']['p50'])} / {_f(s['latency_ms']['model']['p95'])} | "
                 f"{_f(s['tokens'].get('prompt_tokens', {}).get('mean'))} | "
                 f"{_f(s['tokens'].get('computed_tokens', {}).get('mean'))} | {_f(w.get('peak_rss_mb'))} |")
    L += ["", "## Accuracy", "",
          "Function accuracy / exact match (`octopus_ros/training/metrics.py`: function right, and all arguments "
          "equal after normalisation) on the SAME cases for every variant. The baseline never sees the image, so "
          "on image cases it can only guess image-dependent arguments; the text-only rows are the fair comparison.",
          ""]
    for title, table in data["common_accuracy"].items():
        if not table:
            continue
        L += [f"**{title}**", "", "| variant | n | function acc | exact match | argument F1 | p50 ms | p95 ms |",
              "|---|---|---|---|---|---|---|"]
        for k in order:
            if k in table:
                g = table[k]
                L.append(f"| {labels[k]} | {g['n']} | {g['function_accuracy']:.3f} | {g['exact_match']:.3f} | "
                         f"{g['argument_f1']:.3f} | {_f(g['p50_ms'])} | {_f(g['p95_ms'])} |")
        L.append("")
    L += ["![accuracy on the same cases](accuracy.png)", "",
          "Per variant on all its cases (function acc / exact match):", "",
          "| variant | en | zh | image cases | no_action precision / recall | outcomes |", "|---|---|---|---|---|---|"]
    for k in order:
        a = summ[k]["accuracy"]
        na = a.get("no_action") or {}
        L.append(f"| {labels[k]} | {_acc(a['en'])} | {_acc(a['zh'])} | {_acc(a['image'])} | "
                 f"{_f(na.get('precision'), 3)} / {_f(na.get('recall'), 3)} | "
                 f"{', '.join(f'{o} {c}' for o, c in sorted(summ[k]['outcomes'].items()))} |")
    L += ["", "## Latency by stage", "",
          "Milliseconds, p50 / p95 over the cases of each variant (image stages only over image cases). "
          "`model` is `infer()` from command text (+ RGB array) to a validated call; `pipeline` adds image "
          "conversion and publishing.", "",
          "| stage | " + " | ".join(labels[k] for k in order) + " |", "|---|" + "---|" * len(order)]
    for stage in STAGES:
        if not any(stage in summ[k]["stages_ms"] for k in order):
            continue
        cells = []
        for k in order:
            st = summ[k]["stages_ms"].get(stage)
            cells.append(f"{_f(st['p50'], 1)} / {_f(st['p95'], 1)}" if st else "-")
        L.append(f"| {STAGE_LABELS[stage]} | " + " | ".join(cells) + " |")
    for key, label in (("model", "**model total**"), ("model_text_only", "model total, text-only cases"),
                       ("pipeline", "pipeline (conversion + model + publish)")):
        L.append(f"| {label} | " + " | ".join(
            f"{_f(summ[k]['latency_ms'][key]['p50'], 1)} / {_f(summ[k]['latency_ms'][key]['p95'], 1)}"
            for k in order) + " |")
    cam = data.get("camera_frame") or {}
    if cam:
        L += ["", f"A {cam['frame']} camera frame (what a camera driver publishes; the test images are 224x224): "
              f"conversion p50 {_f(pct(cam['image_convert_ms'], 50), 2)} ms, preprocessing (resize to the tower's "
              f"input + normalise) p50 {_f(pct(cam.get('image_preprocess_ms', []), 50), 2)} ms."]
    if data.get("prefix_prefill_ms"):
        L += ["", f"The cached baseline computes the key/value cache of its {data['prefix_tokens']}-token prompt "
              f"prefix once at load time ({_f(data['prefix_prefill_ms'])} ms, not counted per command) and copies it "
              "for every command (the `prompt-prefix KV copy` row)."]
    L += ["", "![latency by stage](stages.png)", "", "![latency per case](latency.png)", "",
          "## Tokens", "", "| variant | prompt tokens (mean / max) | tokens the model chose (mean) | "
          "tokens forced by the grammar (mean) | tokens computed per command (mean) |", "|---|---|---|---|---|"]
    for k in order:
        t = summ[k]["tokens"]
        g = lambda name, key="mean": _f(t.get(name, {}).get(key), 1) if name in t else "-"  # noqa: E731
        L.append(f"| {labels[k]} | {g('prompt_tokens')} / {g('prompt_tokens', 'max')} | {g('generated_tokens')} | "
                 f"{g('forced_tokens')} | {g('computed_tokens')} |")
    L += ["", "Functional tokens: the prompt is `<bos> [image x K] command <octo_call>`; the model chooses the "
          "function with ONE token and then writes only the argument text. Baseline: the prompt holds every "
          "function's schema and the examples; the model writes the JSON call (structure forced by the grammar "
          "is appended without a decoding step).", "", "## Memory and model size", "",
          "| variant | weights in memory MiB | parameters | RSS after load MiB | peak RSS MiB | load s |",
          "|---|---|---|---|---|---|"]
    for wk, w in data["workers"].items():
        L.append(f"| {data['worker_labels'][wk]} | {_f(w.get('weights_in_memory_mb'))} | {_f(w.get('parameters'))} | "
                 f"{_f(w.get('rss_after_load_mb'))} | {_f(w.get('peak_rss_mb'))} | {_f(w.get('load_s'), 1)} |")
    L += ["", "Each variant ran in its own process; RSS includes the Python runtime, torch, transformers and "
          f"rclpy (a process that only imports them: {_f(data.get('import_rss_mb'))} MiB).", "",
          "On disk:", "", "| part | files | MiB |", "|---|---|---|"]
    for part in data["sizes"]:
        L.append(f"| {part['part']} | {part['files']} | {_f(part['mib'], 1)} |")
    L += ["", "## End to end through ROS", "",
          f"`{data['e2e'].get('model', '-')}` in the agent node process (queue size {data['e2e'].get('queue_size', '-')}), "
          f"a {data['e2e'].get('camera_hz', 30):g} Hz camera ({data['e2e'].get('frame', '-')}, sensor-data QoS) and "
          "commands (octopus_ros/Command, reliable) from a second process. Latency: command publish() -> "
          "FunctionCall received, or -> the first CommandOutcome (/octopus/outcome) or AgentStatus that reports "
          "the request's outcome (no_action, low confidence, invalid output, dropped...). `model p50` is the "
          "node's own inference time. Every command is paired with the latest camera frame. "
          f"Node ready after {_f(data['e2e'].get('node_ready_s'), 1)} s.", "",
          "| commands/s | sent | answered | dropped (queue full) | latency p50 / p95 ms | model p50 ms | "
          "max / mean queue depth | answered/s | outcomes |", "|---|---|---|---|---|---|---|---|---|"]
    for row in data["e2e_summary"]:
        L.append(f"| {row['rate_hz']:g} | {row['commands']} | {row['answered']} | {row['dropped']} "
                 f"(dropped_count +{row['dropped_count_delta']}) | {_f(row['latency_p50_ms'])} / "
                 f"{_f(row['latency_p95_ms'])} | {_f(row['model_p50_ms'])} | {row['queue_depth_max']} / "
                 f"{_f(row['queue_depth_mean'], 1)} | {_f(row['throughput_hz'], 2)} | "
                 f"{', '.join(f'{o} {c}' for o, c in sorted(row['outcomes'].items()))} |")
    if data.get("e2e_error"):
        L += ["", f"The ROS run failed: {data['e2e_error']}"]
    L += ["", "![end to end](e2e.png)", "", "## Method and caveats", ""]
    L += [f"- {line}" for line in data["method_notes"]]
    L += ["", "Prompt prefix of the baseline (verbatim, then ` <command>\\nCall: `):", "", "```text",
          data.get("prompt_prefix", "").strip(), "```", ""]
    return "\n".join(L)


# ---- plots --------------------------------------------------------------------------------------------
def plot_all(data: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ, labels = data["summaries"], data["labels"]
    order = [k for k in data["variant_order"] if k in summ]
    written = []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    # 1. stacked p50 stage latency per variant
    fig, ax = plt.subplots(figsize=(11, 0.8 * len(order) + 1.8))
    for i, k in enumerate(order):
        left = 0.0
        for j, stage in enumerate(STAGES):
            st = summ[k]["stages_ms"].get(stage)
            if not st:
                continue
            ax.barh(i, st["p50"], left=left, color=colors[j % len(colors)],
                    label=STAGE_LABELS[stage] if i == next(n for n, kk in enumerate(order)
                                                           if stage in summ[kk]["stages_ms"]) else None)
            left += st["p50"]
        ax.text(left, i, f"  {summ[k]['latency_ms']['model']['p50']:.0f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(order)), [labels[k] for k in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("p50 latency per stage, ms (stacked; symlog axis)")
    ax.set_title("Latency by stage")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out / "stages.png", dpi=110)
    plt.close(fig)
    written.append("stages.png")

    # 2. per-case model latency distribution
    fig, ax = plt.subplots(figsize=(9, 3.8))
    series = [[r["model_ms"] for r in data["records"][k]] or [0.0] for k in order]
    ax.boxplot(series, vert=False, showfliers=True)
    ax.set_yticks(range(1, len(order) + 1), [labels[k] for k in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("model latency per command, ms (log)")
    ax.set_title("Latency per command")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    written.append("latency.png")

    # 3. accuracy on the common cases
    tables = [(t, tab) for t, tab in data["common_accuracy"].items() if tab]
    if tables:
        fig, axes = plt.subplots(1, len(tables), figsize=(4.5 * len(tables), 3.8), squeeze=False)
        for ax, (title, table) in zip(axes[0], tables):
            keys = [k for k in order if k in table]
            x = np.arange(len(keys))
            ax.bar(x - 0.2, [table[k]["function_accuracy"] for k in keys], 0.4, label="function accuracy")
            ax.bar(x + 0.2, [table[k]["exact_match"] for k in keys], 0.4, label="exact match")
            ax.set_xticks(x, [labels[k] for k in keys], rotation=20, ha="right", fontsize=7)
            ax.set_ylim(0, 1)
            ax.set_title(title, fontsize=8)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "accuracy.png", dpi=110)
        plt.close(fig)
        written.append("accuracy.png")

    # 4. end to end: queue depth and latency over time per rate
    phases = data["e2e"].get("phases", [])
    fig, axes = plt.subplots(2, max(1, len(phases)), figsize=(4.2 * max(1, len(phases)), 5.5), squeeze=False)
    for col, phase in enumerate(phases):
        ax = axes[0][col]
        series = phase["queue_series"]
        if series:
            ax.step([s["t"] for s in series], [s["queue_depth"] for s in series], where="post", label="queue depth")
            ax.step([s["t"] for s in series], [s["dropped_count"] for s in series], where="post",
                    label="dropped (cumulative)")
        ax.set_title(f"{phase['rate_hz']:g} commands/s, {phase['camera_hz']:g} Hz camera", fontsize=9)
        ax.set_xlabel("s")
        ax.legend(fontsize=7)
        ax = axes[1][col]
        ok = [r for r in phase["requests"] if r["latency_ms"] is not None and r["outcome"] != "dropped"]
        dropped = [r for r in phase["requests"] if r["outcome"] == "dropped" and r["latency_ms"] is not None]
        ax.scatter([r["sent_s"] for r in ok], [r["latency_ms"] for r in ok], s=8, label="answered")
        if dropped:
            ax.scatter([r["sent_s"] for r in dropped], [r["latency_ms"] for r in dropped], s=8, marker="x",
                       label="dropped")
        ax.set_xlabel("command sent at, s")
        ax.set_ylabel("publish -> answer, ms")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "e2e.png", dpi=110)
    plt.close(fig)
    written.append("e2e.png")
    return written
