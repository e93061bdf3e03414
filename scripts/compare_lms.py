#!/usr/bin/env python
"""Compare the registry-shipped base LMs (one model profile each) for docs/model/lm-comparison.md.

    python scripts/compare_lms.py measure default smollm2-135m qwen2.5-0.5b   # cost: tokens, latency, memory
    python scripts/compare_lms.py probe   default smollm2-135m qwen2.5-0.5b   # accuracy: short stage-3 + eval
    python scripts/compare_lms.py table                                       # markdown table of what exists

`measure` runs each profile in a fresh subprocess (so load time and resident memory are its own) and writes
runs/lmcmp/<profile>/measure.json. It needs `octopus-ros models prepare <profile>` first. Per LM:
- tokens per command, EN / ZH, over every command of the test cases (text only; the prompt adds <bos>,
  the image tokens and <octo_call>);
- prefill of a command with the profile's image tokens (4), fp32 and after int8 dynamic quantisation
  (octopus_ros.model.factory.quantize_int8): median over a fixed sample of test commands per language,
  best of `--reps` per command; one decode step (KV cache of that prompt, one new token);
- load time (base LM from the cached safetensors + image tower + new head parts, untrained), resident
  memory after loading (fp32) and after int8 quantisation, disk size of the registry GGUF and of the cache;
- argument round trip: how many of the test cases' argument texts ("('red mug')") the decoder can write: every
  token one it renders on its own and the rendered tokens the text again (octopus_ros.model.decoding,
  `text_tokens` and `token_texts`; byte-level BPE is decoded from its bytes, a piece of a UTF-8 character
  cannot be written). Anything below 100% is argument text the model cannot produce.

`probe` (never while another training runs, unless --force) trains stage 3 only for each profile with the
same steps and seed from an untrained head (config/train/functional.yaml with init_from: null, the state
entering the first LoRA layer cached, run_dir and out runs/lmcmp/<profile>), then evaluates a fixed sample of
the test cases, decoded as the shipped model is (its beams and number margin), and writes
runs/lmcmp/<profile>/probe.json.

Threads default to 1 (the machine has 2 cores; measurements next to a training run must not slow it down);
numbers measured with other training processes running are noisier, so the table says the thread count.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT_ROOT = REPO / "runs" / "lmcmp"
TEST_CASES = REPO / "data" / "default" / "test.jsonl"
DEFAULT_PROFILES = ["default", "smollm2-135m", "qwen2.5-0.5b"]


# ---- helpers shared by measure and probe ------------------------------------------------------------------
def rss_mb() -> tuple[float, float]:
    """(current resident, peak resident) of this process in MB, from /proc."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def dir_size_mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def read_test_cases(path: Path = TEST_CASES) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def argument_texts(cases: list[dict]) -> list[str]:
    """The argument text the decoder must produce for every call case, as training encodes it."""
    from octopus_ros.actions import ActionRegistry
    from octopus_ros.actions.registry import default_path

    registry = ActionRegistry.from_yaml(default_path())
    texts = []
    for case in cases:
        function = registry.by_name(case["expected"]["function"])
        if function.name == registry.no_action.name:
            continue
        call = registry.format_call(function.name, case["expected"]["arguments"])
        texts.append(call[len(function.token):-len(registry.end_token)])
    return texts


# ---- measure (one profile per subprocess) -----------------------------------------------------------------
def measure_one(profile_name: str, threads: int, reps: int, sample: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from octopus_ros.actions import ActionRegistry
    from octopus_ros.actions.registry import default_path
    from octopus_ros.model import base_weights
    from octopus_ros.model.decoding import byte_level_decoder, text_tokens, token_texts
    from octopus_ros.model.factory import build_model, quantize_int8
    from octopus_ros.model.lora import merge_lora
    from octopus_ros.model.profile import load_profile

    profile = load_profile(profile_name)
    spec = profile.lm
    cache = base_weights.cache_dir()
    rss_before, _ = rss_mb()
    registry = ActionRegistry.from_yaml(default_path())
    t, c = time.perf_counter(), time.process_time()
    model = build_model(profile, [f.name for f in registry.functions], [f.description for f in registry.functions])
    merge_lora(model)  # as OctopusAgent.load does (the untrained LoRA merges to a no-op)
    model.eval()
    load_s, load_cpu_s = time.perf_counter() - t, time.process_time() - c
    rss_fp32, _ = rss_mb()
    tok = model.tokenizer
    lm_params = sum(p.numel() for p in model.lm.parameters())

    cases = read_test_cases()
    res: dict = {"profile": profile.name, "threads": threads, "lm_params_m": lm_params / 1e6,
                 "lm_layers": model.lm.config.num_hidden_layers, "hidden": model.hidden_size,
                 "vocab": model.base_vocab, "image_tokens": model.image_tokens, "load_s": load_s, "load_cpu_s": load_cpu_s,
                 "rss_before_load_mb": rss_before, "rss_fp32_mb": rss_fp32,
                 "gguf_mb": dir_size_mb(cache / "gguf" / spec.get("file_name", "")),
                 "cache_mb": dir_size_mb(cache / "base" / spec.get("cache_name", ""))}

    # tokens per command
    for lang in ("en", "zh"):
        texts = [c["text"] for c in cases if c["lang"] == lang]
        lengths = [len(tok(x, add_special_tokens=False).input_ids) for x in texts]
        res[f"tokens_{lang}"] = statistics.mean(lengths)
        res[f"tokens_{lang}_p95"] = sorted(lengths)[int(0.95 * (len(lengths) - 1))]
        res[f"chars_{lang}"] = statistics.mean(len(x) for x in texts)
        res[f"n_{lang}"] = len(texts)

    # argument round trip through the decoder's per-token rendering: text it cannot write is a call it cannot make
    args = argument_texts(cases)
    writable = 0
    for text in args:
        ids = tok(text, add_special_tokens=False).input_ids
        writable += text_tokens(tok, ids) == ids and "".join(token_texts(tok, ids)) == text
    res.update(byte_level_bpe=byte_level_decoder(tok) is not None, arg_roundtrip=writable / len(args),
               arg_cases=len(args))

    # latency: prefill of <bos> [image x K] command <octo_call>, then one decode step
    rng = random.Random(0)
    prompts = {lang: rng.sample([c["text"] for c in cases if c["lang"] == lang], sample) for lang in ("en", "zh")}
    pixels = torch.zeros(1, 3, model.vision.image_size, model.vision.image_size) if model.vision else None

    # Two clocks: wall time, and the CPU time of this thread (with one torch thread all the work runs on the
    # calling thread). On a busy machine the wall time mostly measures waiting for a core; the CPU time is
    # what the same work costs on an idle core (close to its wall time there).
    def timed(fn) -> tuple[float, float]:
        wall = cpu = float("inf")
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            cpu = min(cpu, time.thread_time() - c0)
            wall = min(wall, time.perf_counter() - t0)
        return wall * 1000, cpu * 1000

    def latencies(tag: str) -> None:
        with torch.inference_mode():
            image = model.image_embeds(pixels) if pixels is not None else None
            next_embed = model.embed_ids(torch.tensor([[model.function_token_id(0)]]))
            for lang, texts in prompts.items():
                prefill, step = [], []
                for text in texts:
                    embeds = model.prompt_embeds(model.prompt_ids(text), image)
                    prefill.append(timed(lambda: model.hidden(embeds, use_cache=True)))
                    _, past = model.hidden(embeds, use_cache=True)
                    wall = cpu = float("inf")
                    for _ in range(reps):  # a fresh copy of the prompt's cache each time (same length)
                        cache = copy.deepcopy(past)
                        t0, c0 = time.perf_counter(), time.thread_time()
                        model.hidden(next_embed, past_key_values=cache, use_cache=True)
                        cpu = min(cpu, time.thread_time() - c0)
                        wall = min(wall, time.perf_counter() - t0)
                    step.append((wall * 1000, cpu * 1000))
                for clock, k in (("wall", 0), ("cpu", 1)):
                    res[f"prefill_{lang}_{tag}_{clock}_ms"] = statistics.median(x[k] for x in prefill)
                    res[f"decode_step_{lang}_{tag}_{clock}_ms"] = statistics.median(x[k] for x in step)
            for clock in ("wall", "cpu"):
                res[f"decode_step_{tag}_{clock}_ms"] = statistics.median(
                    [res[f"decode_step_{lang}_{tag}_{clock}_ms"] for lang in prompts])

    latencies("fp32")
    t = time.perf_counter()
    quantize_int8(model)
    res["quantize_s"] = time.perf_counter() - t
    import gc
    gc.collect()
    res["rss_int8_mb"] = rss_mb()[0]
    latencies("int8")
    with torch.inference_mode():
        res["image_encode_wall_ms"], res["image_encode_cpu_ms"] = timed(lambda: model.image_embeds(pixels))
    res["rss_peak_mb"] = rss_mb()[1]
    res["other_training_running"] = training_running()
    return res


def training_running() -> bool:
    out = subprocess.run(["pgrep", "-f", "octopus-ros train"], capture_output=True, text=True).stdout.split()
    return any(int(pid) != os.getpid() for pid in out)


def cmd_measure(args) -> int:
    for name in args.profiles:
        out = OUT_ROOT / name / "measure.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"measuring {name} ({args.threads} thread(s)) ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "_measure_one", name, "--threads", str(args.threads),
                               "--reps", str(args.reps), "--sample", str(args.sample), "--out", str(out)],
                              cwd=REPO)
        if proc.returncode:
            print(f"{name}: failed (exit {proc.returncode})", file=sys.stderr)
            return proc.returncode
        print(json.dumps(json.loads(out.read_text()), indent=1))
    print(table())
    return 0


# ---- probe: short stage-3 training + eval -----------------------------------------------------------------
def below_lora(profile_name: str) -> int:
    """The decoder layers under the profile's LoRA layers: the probe caches the state entering the first LoRA
    layer, as the default recipe does for Gemma (8 of 18), so every LM trains the same top layers."""
    from octopus_ros.model.base_weights import prepare_lm
    from octopus_ros.model.profile import load_profile

    profile = load_profile(profile_name)
    layers = json.loads((Path(prepare_lm(profile.lm)) / "config.json").read_text())["num_hidden_layers"]
    return layers - profile.head.lora.top_layers


def cmd_probe(args) -> int:
    import yaml

    if training_running() and not args.force:
        print("another `octopus-ros train` is running; the probe would slow it down (use --force to run anyway)",
              file=sys.stderr)
        return 2
    base = yaml.safe_load((REPO / "config" / "train" / "functional.yaml").read_text())
    for name in args.profiles:
        run_dir = OUT_ROOT / name
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg = dict(base, profile=name, init_from=None, run_dir=str(run_dir.relative_to(REPO)),
                   out=str((run_dir / "checkpoint").relative_to(REPO)), steps=args.steps,
                   threads=args.threads, cache_lower_layers=below_lora(name))
        config_path = run_dir / "functional.yaml"
        config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        octo = [sys.executable, "-m", "octopus_ros.cli"]
        t = time.perf_counter()
        log = open(run_dir / "train.log", "w")
        rc = subprocess.run(octo + ["train", "functional", "--config", str(config_path)], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT).returncode
        train_s = time.perf_counter() - t
        if rc:
            print(f"{name}: training failed (exit {rc}); see {run_dir / 'train.log'}", file=sys.stderr)
            return rc
        result = {"profile": name, "steps": args.steps, "train_s": train_s, "threads": args.threads}
        proc = subprocess.run([sys.executable, __file__, "_eval_one", str(run_dir / "checkpoint"),
                               "--limit", str(args.limit), "--threads", str(args.threads)],
                              cwd=REPO, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        result["eval"] = json.loads(proc.stdout.strip().splitlines()[-1])
        (run_dir / "eval.txt").write_text(result["eval"].pop("report"))
        (run_dir / "probe.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result, indent=1), flush=True)
    print(table())
    return 0


def eval_one(checkpoint: str, limit: int, threads: int) -> dict:
    """Evaluate one checkpoint on a fixed sample of the test cases; the headline metrics as a dict."""
    from octopus_ros.model import OctopusAgent
    from octopus_ros.model.profile import load_profile
    from octopus_ros.training.cases import read_cases
    from octopus_ros.training.evaluate import run_eval
    from octopus_ros.training.metrics import format_report

    shipped = load_profile("default")   # every LM decoded as the shipped model is (beams, number margin)
    agent = OctopusAgent.load(checkpoint, threads=threads, beams=shipped.beams, number_margin=shipped.number_margin)
    cases = read_cases(TEST_CASES)
    if limit and limit < len(cases):  # the same fixed sample as `octopus-ros eval --limit`
        cases = random.Random(0).sample(cases, limit)
    summary = run_eval(agent, cases, None, progress=False)
    out = {"report": format_report(summary)}
    for key in ("all", "lang:en", "lang:zh"):
        g = summary["groups"].get(key)
        if g:
            out[key] = {k: g[k] for k in ("n", "function_accuracy", "exact_match", "argument_f1")}
    out["no_action"] = summary["no_action"]
    out["latency_ms"] = summary["latency_ms"]
    return out


# ---- table ------------------------------------------------------------------------------------------------
def _fmt(value, spec: str = ".0f") -> str:
    return "–" if value is None else format(value, spec)


def table(profiles: list[str] | None = None) -> str:
    rows = []
    for name in profiles or DEFAULT_PROFILES:
        m_path, p_path = OUT_ROOT / name / "measure.json", OUT_ROOT / name / "probe.json"
        m = json.loads(m_path.read_text()) if m_path.exists() else {}
        p = json.loads(p_path.read_text()) if p_path.exists() else {}
        if not m:
            continue
        rows.append((name, m, p))
    if not rows:
        return "(no measurements yet: run `python scripts/compare_lms.py measure`)"
    lines = ["| | " + " | ".join(n for n, _, _ in rows) + " |", "|---|" + "---|" * len(rows)]

    def row(label, fn):
        lines.append(f"| {label} | " + " | ".join(fn(m, p) for _, m, p in rows) + " |")

    row("LM parameters (M) / layers / hidden", lambda m, p: f"{m['lm_params_m']:.0f} / {m['lm_layers']} / {m['hidden']}")
    row("vocabulary", lambda m, p: f"{m['vocab']:,}")
    row("tokens per command EN (mean / p95)", lambda m, p: f"{m['tokens_en']:.1f} / {m['tokens_en_p95']}")
    row("tokens per command ZH (mean / p95)", lambda m, p: f"{m['tokens_zh']:.1f} / {m['tokens_zh_p95']}")
    row("argument text the decoder can write", lambda m, p: f"{100 * m['arg_roundtrip']:.1f}%")
    for tag in ("fp32", "int8"):
        for lang in ("en", "zh"):
            row(f"prefill {lang.upper()}, 4 image tokens, {tag}: CPU / wall (ms)",
                lambda m, p, t=tag, lg=lang: _fmt(m.get(f"prefill_{lg}_{t}_cpu_ms")) + " / "
                + _fmt(m.get(f"prefill_{lg}_{t}_wall_ms")))
        row(f"one decode step, {tag}: CPU / wall (ms)", lambda m, p, t=tag: _fmt(m.get(f"decode_step_{t}_cpu_ms"), ".1f")
            + " / " + _fmt(m.get(f"decode_step_{t}_wall_ms"), ".1f"))
    row("load, untrained model from the cache: CPU / wall (s)",
        lambda m, p: f"{m['load_cpu_s']:.1f} / {m['load_s']:.1f}")
    row("resident memory fp32 / int8 (MB)", lambda m, p: f"{m['rss_fp32_mb']:.0f} / {m['rss_int8_mb']:.0f}")
    row("registry GGUF on disk (MB)", lambda m, p: f"{m['gguf_mb']:.0f}")
    row("prepared cache .cache/base (MB)", lambda m, p: f"{m['cache_mb']:.0f}")
    if any(p for _, _, p in rows):
        for group in ("lang:en", "lang:zh"):
            def cell(m, p, g=group):
                r = (p.get("eval") or {}).get(g)
                return "–" if not r else " / ".join(f"{r[x]:.3f}" for x in ("function_accuracy", "exact_match"))
            row(f"probe {group[5:].upper()}: function accuracy / exact match", cell)
        row("probe no_action precision / recall", lambda m, p: "–" if not p else
            f"{p['eval']['no_action']['precision']:.3f} / {p['eval']['no_action']['recall']:.3f}")
        row("probe: stage-3 steps / train time (min)",
            lambda m, p: "–" if not p else f"{p['steps']} / {p['train_s'] / 60:.0f}")
    threads = sorted({m["threads"] for _, m, _ in rows})
    busy = any(m.get("other_training_running") for _, m, _ in rows)
    lines.append("")
    lines.append(f"Latencies: best of N repetitions per command, median over sampled test commands; torch threads "
                 f"{threads}; CPU = this thread's CPU time (what the work costs on an idle core), wall = elapsed; "
                 + ("measured while other processes (a training run) competed for the cores, so the wall times "
                    "are inflated." if busy else "machine otherwise idle."))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="cost per LM (fresh subprocess each)")
    m.add_argument("profiles", nargs="*", default=DEFAULT_PROFILES)
    m.add_argument("--threads", type=int, default=1)
    m.add_argument("--reps", type=int, default=3)
    m.add_argument("--sample", type=int, default=12, help="test commands per language for the latencies")
    p = sub.add_parser("probe", help="short stage-3 training + eval per LM")
    p.add_argument("profiles", nargs="*", default=DEFAULT_PROFILES)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--force", action="store_true", help="run even while another training runs")
    t = sub.add_parser("table", help="print the markdown table")
    t.add_argument("profiles", nargs="*", default=None)
    one = sub.add_parser("_measure_one")
    one.add_argument("profile")
    one.add_argument("--threads", type=int, default=1)
    one.add_argument("--reps", type=int, default=3)
    one.add_argument("--sample", type=int, default=12)
    one.add_argument("--out", required=True)
    ev = sub.add_parser("_eval_one")
    ev.add_argument("checkpoint")
    ev.add_argument("--limit", type=int, default=300)
    ev.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.cmd == "measure":
        return cmd_measure(args)
    if args.cmd == "probe":
        return cmd_probe(args)
    if args.cmd == "table":
        print(table(args.profiles or None))
        return 0
    if args.cmd == "_measure_one":
        Path(args.out).write_text(json.dumps(measure_one(args.profile, args.threads, args.reps, args.sample), indent=1))
        return 0
    if args.cmd == "_eval_one":
        print(json.dumps(eval_one(args.checkpoint, args.limit, args.threads), ensure_ascii=False))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
