"""`octopus-ros bench`: run every variant, the ROS end-to-end load test, and write the report.

Steps (each model variant in its own process, one after the other, so timings and peak memory are
not disturbed by another variant):
1. functional tokens, the profile's quantisation (int8 for `default`) on N sampled test cases;
2. functional tokens, the other precision (fp32 <-> int8) on the first N_fp32 of them;
3. the prompted JSON baseline (same base LM, same quantisation as step 1) on the first N_baseline of
   them with the cached prompt prefix, and on the first N_cold with a cold prompt;
4. the agent node as a process under 1, 5 and 10 commands/s with a 30 Hz camera;
5. summaries (training/metrics.py), report.md, PNG plots and the raw JSON.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..training.cases import Case, read_cases
from . import report as rep
from .e2e import REPO, choose_domain_id, die_with_parent, ros_env

DEFAULT_CASES = REPO / "data" / "default" / "test.jsonl"
RAW_JSON = "bench.json"


@dataclass
class BenchOptions:
    model: str = "default"
    cases: Path = DEFAULT_CASES
    out: Path = REPO / "docs" / "benchmarks"
    quick: bool = False
    n_cases: int = 300        # functional tokens at the profile's precision
    n_other_precision: int = 150
    n_baseline: int = 120     # baseline with the cached prompt prefix
    n_cold: int = 16          # baseline with a cold prompt
    examples: int = 12        # examples in the baseline prompt
    threads: int = 0
    seed: int = 0
    e2e: bool = True
    rates: tuple = (1.0, 5.0, 10.0)
    e2e_seconds: float = 15.0
    camera_hz: float = 30.0
    queue_size: int = 8
    baseline: bool = True
    other_precision: bool = True
    jump_forward: bool = True
    warmup: int = 2           # commands per process not counted (first calls are slower)
    extra_notes: list = field(default_factory=list)

    @classmethod
    def quick_defaults(cls, **overrides) -> "BenchOptions":
        base = dict(model="tiny-random", quick=True, n_cases=4, n_other_precision=2, n_baseline=2, n_cold=1,
                    e2e_seconds=2.0, warmup=1, out=REPO / "runs" / "bench-quick")
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


# ---- cases ------------------------------------------------------------------------------------------
def example_cases(functions_file: Path | None = None) -> list[dict]:
    """Cases from the functions file's own examples (used when no test split is available, e.g. in CI)."""
    from ..actions import ActionRegistry
    from ..actions.registry import default_path

    registry = ActionRegistry.from_yaml(functions_file or default_path())
    rows = []
    for f in registry.functions:
        for i, ex in enumerate(f.examples):
            if ex.get("image"):
                continue
            rows.append({"id": f"example-{f.name}-{i}", "lang": ex.get("lang", "en"), "text": ex["text"],
                         "image": None, "expected": {"function": f.name, "arguments": ex["arguments"]},
                         "split": "test", "tags": ["functions_yaml_example"]})
    return rows


def select_cases(opts: BenchOptions, work: Path) -> tuple[Path, list[Case], str]:
    """Sample the cases, write them (with absolute image paths) to work/cases.jsonl."""
    if opts.cases and Path(opts.cases).is_file():
        src = Path(opts.cases)
        rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            if row.get("image"):
                row["image"] = str((src.parent / row["image"]).resolve())
        origin = str(src.relative_to(REPO) if src.resolve().is_relative_to(REPO) else src)
    else:
        rows = example_cases()
        origin = "the examples of config/functions.yaml (no test split found)"
    total = len(rows)
    rng = random.Random(opts.seed)
    if opts.quick:  # a few cases with both an image case and text cases when there are any
        with_image = [r for r in rows if r.get("image")]
        without = [r for r in rows if not r.get("image")]
        rng.shuffle(with_image)
        rng.shuffle(without)
        rows = without[:max(1, opts.n_cases - 1)] + with_image[:1]
        rows = rows[:opts.n_cases]
        rng.shuffle(rows)
    else:
        rows = rng.sample(rows, min(opts.n_cases, total))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "cases.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    n_img = sum(1 for r in rows if r.get("image"))
    note = (f"{len(rows)} of the {total} cases of {origin}, sampled at random (seed {opts.seed}); "
            f"{n_img} with an image, {len(rows) - n_img} text only")
    return path, read_cases(path), note


def _subset(path: Path, n: int, out: Path) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)[:n]
    out.write_text("".join(lines), encoding="utf-8")
    return out


# ---- workers ----------------------------------------------------------------------------------------
def run_worker(args: list[str], env: dict, log: Path, progress) -> dict:
    out = Path(args[args.index("--out") + 1])
    cmd = [sys.executable, "-m", "octopus_ros.bench.worker", *args]
    progress("bench: " + " ".join(args[:6]))
    with open(log, "ab") as f:
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                               preexec_fn=die_with_parent)
    if code != 0 or not out.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bench worker {' '.join(args[:4])} failed with exit code {code}:\n{tail}")
    return json.loads(out.read_text(encoding="utf-8"))


def import_rss_mb(env: dict) -> float:
    code = ("import resource, torch, transformers, open_clip, numpy\n"
            "try:\n import rclpy\nexcept Exception:\n pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                             timeout=120)
        return float(out.stdout.strip().splitlines()[-1])
    except Exception:  # noqa: BLE001 - informative only
        return 0.0


# ---- sizes and environment ----------------------------------------------------------------------------
def _files_mib(paths: list[Path]) -> tuple[int, float]:
    files = [p for p in paths if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files) / 2 ** 20


def model_sizes(model: str) -> tuple[list[dict], str]:
    from ..model import checkpoint as ckpt
    from ..model.base_weights import cache_dir, package_file
    from ..model.profile import load_profile, profile_from_dict

    parts, note = [], ""
    path = Path(model)
    if ckpt.is_checkpoint(path):
        checkpoint, profile = path, profile_from_dict(ckpt.read_meta(path)["profile"])
    else:
        profile = load_profile(model)
        checkpoint = profile.checkpoint if profile.checkpoint and ckpt.is_checkpoint(profile.checkpoint) else None
    if checkpoint is not None:
        n, mib = _files_mib(sorted(Path(checkpoint).iterdir()))
        info = ckpt.read_meta(Path(checkpoint)).get("info", {})
        parts.append({"part": f"trained part (`{_rel(checkpoint)}`: projector, new token rows, LoRA)",
                      "files": n, "mib": mib})
        note = f"profile `{profile.name}`, checkpoint `{_rel(checkpoint)}`" + (
            f" ({', '.join(f'{k} {v}' for k, v in info.items() if isinstance(v, (int, float, str)))})" if info else "")
    else:
        note = f"profile `{profile.name}`, no trained checkpoint (untrained head)"
    lm = profile.lm
    if lm.get("kind") == "gguf":
        gguf = cache_dir() / "gguf" / lm["file_name"]
        n, mib = _files_mib([gguf])
        parts.append({"part": f"base LM as shipped (`{lm['package']}`, GGUF Q4_K_M)", "files": n, "mib": mib})
        prepared = cache_dir() / "base" / lm["cache_name"]
        if prepared.is_dir():
            n, mib = _files_mib(sorted(prepared.iterdir()))
            parts.append({"part": "base LM prepared for loading (fp32 safetensors + tokenizer, `.cache/base`)",
                          "files": n, "mib": mib})
    elif lm.get("kind") == "random":
        parts.append({"part": "base LM: randomly initialised (tiny-random, no weight file)", "files": 0, "mib": 0.0})
    weights = (profile.vision or {}).get("weights")
    if weights:
        try:
            n, mib = _files_mib([package_file(weights["file"], weights["package"])])
            parts.append({"part": f"image tower weights (`{weights['package']}`)", "files": n, "mib": mib})
        except Exception:  # noqa: BLE001
            pass
    return parts, note


def _rel(path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)


def environment() -> dict:
    from importlib.metadata import version

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=REPO, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=REPO, timeout=10).stdout.strip()
        commit += "+changes" if dirty and commit else ""
    except Exception:  # noqa: BLE001
        pass
    try:
        torch_version = version("torch")
    except Exception:  # noqa: BLE001
        torch_version = "?"
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu or "unknown CPU",
            "load_average_1_5_15": load,
            "cpus": os.cpu_count(), "torch": torch_version, "python": platform.python_version(),
            "git_commit": commit}


# ---- the run ----------------------------------------------------------------------------------------
def run_bench(opts: BenchOptions, progress=print) -> dict:
    started = time.perf_counter()
    env_start = environment()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    log = work / "workers.log"
    log.write_text("")
    cases_path, cases, cases_note = select_cases(opts, work)
    env = ros_env(choose_domain_id())
    common = ["--model", opts.model, "--warmup", str(opts.warmup)] + \
        (["--threads", str(opts.threads)] if opts.threads else [])
    session = None
    if opts.e2e and opts.quick:  # CI: let the node load its model while the offline variants run
        from .e2e import E2ESession

        session = E2ESession(opts.model, work / "agent_node.log", threads=opts.threads,
                             queue_size=opts.queue_size).start()
    try:
        data = _run(opts, out, work, log, cases_path, cases, cases_note, env, common, session, started, progress,
                    env_start)
        return data
    finally:
        if session is not None:
            session.stop()


def _run(opts, out, work, log, cases_path, cases, cases_note, env, common, session, started, progress,
         env_start) -> dict:
    cases_by_id = {c.id: c for c in cases}
    from ..model import checkpoint as ckpt
    from ..model.profile import int8_layers, load_profile, profile_from_dict

    if ckpt.is_checkpoint(Path(opts.model)):
        profile_quant = profile_from_dict(ckpt.read_meta(Path(opts.model))["profile"]).quantize
    else:
        profile_quant = load_profile(opts.model).quantize
    main_q = profile_quant                       # none, int8 or int8-embedding: compared with the other side
    other_q = "none" if main_q != "none" else "int8"
    qname = {"int8": "int8", "int8-embedding": "int8-embedding", "none": "fp32"}

    workers, records, labels, worker_of, worker_labels = {}, {}, {}, {}, {}
    key = f"octopus_{qname[main_q]}"
    workers[key] = run_worker(["--kind", "octopus", *common, "--quantize", main_q, "--cases", str(cases_path),
                               "--out", str(work / f"{key}.json")], env, log, progress)
    records[key], labels[key], worker_of[key] = workers[key]["records"], f"functional tokens, {qname[main_q]}", key
    worker_labels[key] = labels[key]
    order = [key]
    if opts.other_precision and opts.n_other_precision > 0:
        k2 = f"octopus_{qname[other_q]}"
        sub = _subset(cases_path, opts.n_other_precision, work / "cases_other_precision.jsonl")
        workers[k2] = run_worker(["--kind", "octopus", *common, "--quantize", other_q, "--cases", str(sub),
                                  "--out", str(work / f"{k2}.json")], env, log, progress)
        records[k2], labels[k2], worker_of[k2] = workers[k2]["records"], f"functional tokens, {qname[other_q]}", k2
        worker_labels[k2] = labels[k2]
        order.append(k2)
    if opts.baseline and opts.n_baseline > 0:
        sub = _subset(cases_path, opts.n_baseline, work / "cases_baseline.jsonl")
        args = ["--kind", "baseline", *common, "--quantize", main_q, "--cases", str(sub), "--out",
                str(work / "baseline.json"), "--cold-cases", str(min(opts.n_cold, opts.n_baseline)),
                "--examples", str(opts.examples)] + ([] if opts.jump_forward else ["--no-jump-forward"])
        workers["baseline"] = run_worker(args, env, log, progress)
        base_q = "int8" if int8_layers(main_q) else "fp32"   # its full-vocabulary head keeps the fp32 embeddings
        worker_labels["baseline"] = f"prompted JSON baseline, {base_q} (cached and cold prompt)"
        for mode, label in (("cached", "cached prompt prefix"), ("cold", "cold prompt")):
            k = f"baseline_{mode}"
            records[k] = [r for r in workers["baseline"]["records"] if r["mode"] == mode]
            if records[k]:
                labels[k] = f"prompted JSON baseline, {base_q}, {label}"
                worker_of[k] = "baseline"
                order.append(k)

    e2e, e2e_error = {}, ""
    if opts.e2e:
        from .e2e import run_e2e
        from ..training.evaluate import load_rgb

        texts = [c.text for c in cases] or ["turn on the kitchen light"]
        frame = _camera_frame(cases, load_rgb)
        try:
            if session is not None:
                e2e = session.run(texts, frame, rates=opts.rates, duration_s=opts.e2e_seconds,
                                  camera_hz=opts.camera_hz, progress=progress)
            else:
                e2e = run_e2e(opts.model, texts, frame, work / "agent_node.log", rates=opts.rates,
                              duration_s=opts.e2e_seconds, camera_hz=opts.camera_hz, threads=opts.threads,
                              queue_size=opts.queue_size, progress=progress)
        except Exception as exc:  # noqa: BLE001 - reported, the offline numbers still stand
            e2e_error = f"{type(exc).__name__}: {exc}"
            progress(f"bench: the ROS end-to-end run failed: {e2e_error}")

    progress("bench: summarising")
    no_action = _no_action_name()
    summaries = {k: rep.variant_summary(records[k], cases_by_id, no_action) for k in order}
    base_ids = {r["id"] for r in records.get("baseline_cached", [])}
    cold_ids = {r["id"] for r in records.get("baseline_cold", [])}
    common_acc = {}
    if base_ids:
        common_acc[f"Cases the cached baseline ran ({len(base_ids)}), all"] = rep.common_accuracy(
            records, base_ids, cases_by_id, no_action, False)
        common_acc["The same cases, text only"] = rep.common_accuracy(records, base_ids, cases_by_id, no_action, True)
    if cold_ids:
        common_acc[f"Cases the cold-prompt baseline ran ({len(cold_ids)}), text only"] = rep.common_accuracy(
            records, cold_ids, cases_by_id, no_action, True)
    sizes, model_note = model_sizes(opts.model)
    data = {
        "config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
                   "raw_json_name": RAW_JSON},
        "environment": {**env_start, "load_average_at_end": environment()["load_average_1_5_15"]}, "model_note": model_note, "cases_note": cases_note,
        "variant_order": order, "labels": labels, "worker_of": worker_of, "worker_labels": worker_labels,
        "workers": {k: {kk: vv for kk, vv in w.items() if kk not in ("records", "prompt_prefix", "camera_frame")}
                    for k, w in workers.items()},
        "records": records, "summaries": summaries, "common_accuracy": common_acc,
        "camera_frame": workers[order[0]].get("camera_frame"),
        "prefix_prefill_ms": workers.get("baseline", {}).get("prefix_prefill_ms", 0.0),
        "prefix_tokens": workers.get("baseline", {}).get("describe", {}).get("prompt_prefix_tokens", 0),
        "prompt_prefix": workers.get("baseline", {}).get("prompt_prefix", ""),
        "import_rss_mb": 0.0 if opts.quick else import_rss_mb(env), "sizes": sizes,
        "e2e": e2e, "e2e_error": e2e_error, "e2e_summary": rep.e2e_summary(e2e) if e2e else [],
    }
    data["paired"] = {k: {"all": rep.paired(records[order[0]], records[k]),
                          "text_only": rep.paired(records[order[0]], records[k], text_only=True)}
                      for k in order[1:]}
    data["headline"] = headline(data, order[0])
    data["method_notes"] = method_notes(data, opts) + list(opts.extra_notes)
    data["wall_s"] = time.perf_counter() - started
    data["plots"] = rep.plot_all(data, out)
    (out / "report.md").write_text(rep.render_markdown(data), encoding="utf-8")
    (out / RAW_JSON).write_text(json.dumps(_finite(data), ensure_ascii=False, indent=1), encoding="utf-8")
    progress(f"bench: wrote {out / 'report.md'} and {out / RAW_JSON} in {data['wall_s']:.0f} s")
    return data


def _camera_frame(cases: list[Case], load_rgb) -> np.ndarray:
    """A 640x480 camera frame: a test image scaled up, or a rendered pattern when there is none."""
    from PIL import Image

    for case in cases:
        if case.image:
            return np.asarray(Image.fromarray(load_rgb(case.image)).resize((640, 480), Image.BILINEAR))
    y, x = np.mgrid[0:480, 0:640]
    return np.stack([(x // 3) % 256, (y // 2) % 256, ((x + y) // 5) % 256], axis=-1).astype(np.uint8)


def _no_action_name() -> str:
    from ..actions import ActionRegistry
    from ..actions.registry import default_path

    return ActionRegistry.from_yaml(default_path()).no_action.name


def _finite(value):
    """JSON without NaN/inf (replaced by null)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return _finite(value.item())
    return value


def headline(data: dict, main: str) -> dict:
    s, labels, paired = data["summaries"], data["labels"], data.get("paired", {})
    lines, numbers = [], {}
    m = s[main]
    numbers["octopus_p50_ms"] = m["latency_ms"]["model"]["p50"]
    numbers["octopus_p95_ms"] = m["latency_ms"]["model"]["p95"]
    lines.append(f"{labels[main]}: p50 {m['latency_ms']['model']['p50']:.0f} ms, p95 "
                 f"{m['latency_ms']['model']['p95']:.0f} ms per command over {m['n']} cases "
                 f"(function accuracy {m['accuracy']['all']['function_accuracy']:.3f}, exact match "
                 f"{m['accuracy']['all']['exact_match']:.3f}).")
    verdicts = []
    for k, title in (("baseline_cached", "cached prompt prefix"), ("baseline_cold", "cold prompt")):
        if k not in s or not paired.get(k, {}).get("text_only", {}).get("n"):
            continue
        p = paired[k]["text_only"]
        acc = data["common_accuracy"]
        table = next((t for name, t in acc.items() if ("cold" in name) == (k == "baseline_cold")
                      and "text only" in name), {})
        a, b = table.get(main, {}), table.get(k, {})
        numbers[f"{k}_ratio_p50_text"] = p["ratio_p50"]
        numbers[f"{k}_p50_ms_text"] = p["p50_b"]
        if a and b:
            numbers[f"{k}_acc"] = {"octopus": a, "baseline": b}
        lines.append(
            f"vs the prompted JSON baseline with a {title} ({p['n']} text-only cases both ran): p50 "
            f"{p['p50_a']:.0f} ms vs {p['p50_b']:.0f} ms = **{p['ratio_p50']:.1f}x faster** "
            f"(median per-case ratio {p['ratio_median_of_pairs']:.1f}x)"
            + (f"; function accuracy {a['function_accuracy']:.3f} vs {b['function_accuracy']:.3f}, exact match "
               f"{a['exact_match']:.3f} vs {b['exact_match']:.3f}" if a and b else "") + ".")
        if a and b:
            ok = p["ratio_p50"] >= 3.0 and a["function_accuracy"] >= b["function_accuracy"] \
                and a["exact_match"] >= b["exact_match"]
            verdicts.append((title, ok, p["ratio_p50"]))
    other = next((k for k in data["variant_order"] if k.startswith("octopus_") and k != main), None)
    if other:
        o = s[other]
        numbers["other_precision_p50_ms"] = o["latency_ms"]["model"]["p50"]
        lines.append(f"{labels[other]}: p50 {o['latency_ms']['model']['p50']:.0f} ms over {o['n']} cases "
                     f"(function accuracy {o['accuracy']['all']['function_accuracy']:.3f}, exact match "
                     f"{o['accuracy']['all']['exact_match']:.3f}).")
    for row in data.get("e2e_summary", []):
        lines.append(f"ROS end to end at {row['rate_hz']:g} commands/s with a 30 Hz camera: p50 "
                     f"{row['latency_p50_ms']:.0f} ms, p95 {row['latency_p95_ms']:.0f} ms, {row['dropped']} of "
                     f"{row['commands']} dropped, max queue depth {row['queue_depth_max']}.")
    for title, ok, ratio in verdicts:
        lines.append(f"Functional tokens >= 3x faster than the {title} baseline at equal or better accuracy: "
                     f"**{'yes' if ok else 'no'}** ({ratio:.1f}x).")
    return {"lines": lines, "numbers": numbers}


def method_notes(data: dict, opts: BenchOptions) -> list[str]:
    notes = [
        "Functional tokens: `OctopusAgent.infer()` (image tower -> projector -> gemma-3-270m with LoRA; one "
        "functional token chooses the function, argument tokens are decoded under the call grammar, by beam "
        "search with the profile's beam width).",
        "Baseline: the SAME base LM (gemma-3-270m, not fine-tuned), same quantisation, same CPU threads; prompt = "
        "instruction + one JSON schema per function (all functions of config/functions.yaml) + "
        f"{opts.examples} examples from the functions file + the command; output "
        "`{\"function\": ..., \"arguments\": {...}}` decoded greedily under a JSON grammar built from the "
        "schemas (function name restricted to the registry's names by a character trie, then the chosen "
        "function's arguments with enum/number-range/length constraints; `octopus_ros/bench/json_grammar.py`). "
        "Candidates are the top-64 tokens of the FULL vocabulary at each step (top-4096 when none fits).",
        "Baseline decoding uses jump-forward: text the grammar forces is appended and run through the LM in one "
        "forward pass without a decoding step. This only makes the baseline faster." if opts.jump_forward else
        "Baseline decoding: token by token (no jump-forward).",
        "Cold prompt: the whole prompt is prefilled for every command (the default of llama_ros / ROSA-style "
        "set-ups). Cached prompt prefix: the KV cache of the fixed prefix (everything before the command) is "
        "computed once at load and copied per command, so only the command's own tokens are prefilled.",
        "The baseline is a text LM: it never sees the camera image. Its image-case rows measure what a text-only "
        "prompt can do; compare on the text-only rows.",
        "Both paths validate the call with the registry (`normalize_arguments`: defaults filled, types and ranges "
        "checked), and accuracy uses `octopus_ros/training/metrics.py` on both.",
        f"Latency: wall-clock per command on this machine, the first {opts.warmup} command(s) of each process "
        "not counted (warm-up). p50/p95 are over cases. `model` time excludes image conversion and publishing.",
        "Peak RSS is per process (ru_maxrss); each variant ran in its own process.",
    ]
    base = data["workers"].get("baseline", {})
    if base.get("output_head_ms_p50"):
        notes.append(f"One decoding step of the baseline scores the full {base['vocabulary']:,}-token vocabulary: the "
                     f"output head alone takes {base['output_head_ms_p50']:.1f} ms (p50) per step here. The "
                     "functional-token decoder scores only the functional tokens at the first step and a candidate "
                     "subset of the vocabulary (the checkpoint's argument vocabulary + the command's own tokens) "
                     "for the argument tokens.")
    if opts.quick:
        notes.insert(0, "QUICK MODE (CI plumbing check): a tiny random model and a handful of cases; the numbers "
                        "mean nothing about the real model.")
    return notes
