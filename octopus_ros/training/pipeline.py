"""`octopus-ros train all`: the whole default pipeline from one command.

data synth (if the dataset is missing) -> stage 1 contrastive -> stage 2 projector -> stage 3 functional
tokens -> stage 4 refinement -> stage 5 object lexicon (added to stage 4's checkpoint) -> evaluation on
the held-out test split. Each stage reads its YAML in
config/train/, is resumable, and hands its checkpoint to the next through `init_from`/`out`.
"""
from __future__ import annotations

import json
import time
from dataclasses import fields
from pathlib import Path

import yaml

from .loop import close_distributed, init_distributed
from .synth.build import resolve_path

CONFIG_DIR = Path("config/train")


class ConfigError(ValueError):
    pass


def load_config(cls, path: Path, overrides: dict | None = None):
    """A stage config dataclass from YAML (unknown keys are an error) plus non-None overrides. Relative
    paths (the YAML's, and its functions file) are taken from the current directory when they exist there,
    else from the repository root, so the commands also work outside a checkout's root."""
    path = resolve_path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read stage config {path}: {exc}") from exc
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if raw.get("functions"):
        raw["functions"] = str(resolve_path(raw["functions"]))
    return cls(**raw)


def stages():
    from .align import AlignConfig, train_align
    from .contrastive import ContrastiveConfig, train_contrastive
    from .functional import FunctionalConfig, train_functional
    from .lexicon import LexiconConfig, train_lexicon
    from .refine import RefineConfig, train_refine
    return [("contrastive", ContrastiveConfig, train_contrastive), ("align", AlignConfig, train_align),
            ("functional", FunctionalConfig, train_functional), ("refine", RefineConfig, train_refine),
            ("lexicon", LexiconConfig, train_lexicon)]


def ensure_dataset(data: Path, data_config: Path) -> None:
    """Build the dataset if it is missing. One built from other templates or settings than `data_config` is an
    error, not rebuilt: the folder may be a dataset of the user's own that --data points at (without a
    `data_config` file there is nothing to compare, and an existing dataset is used as it is)."""
    from .synth.build import SynthConfig, build
    manifest = data / "manifest.json"
    if manifest.exists() and (data / "captions.jsonl").exists():
        built_from = json.loads(manifest.read_text(encoding="utf-8")).get("inputs_sha256")
        if built_from is None:
            print(f"warning: dataset {data} predates input fingerprints; it is used as it is (rebuild it after "
                  f"editing templates: octopus-ros data synth --out {data} --config {data_config})")
        elif data_config.exists() and built_from != SynthConfig.from_yaml(data_config, name=data.name).fingerprint():
            raise ConfigError(f"dataset {data} was built from other templates or settings than {data_config} "
                              f"(config/functions/templates/objects changed since): rebuild it with "
                              f"`octopus-ros data synth --out {data} --config {data_config}`, or delete the folder")
        return
    summary = build(SynthConfig.from_yaml(data_config, name=data.name), data)
    print(f"dataset {data}: {summary['manifest']['counts']} in {summary['wall_s']:.0f} s")


def train_all(config_dir: Path = CONFIG_DIR, data: str | None = None, eval_limit: int | None = 1000,
              resume: bool = True, only: list[str] | None = None) -> dict:
    dist = init_distributed()
    timings: dict[str, float] = {}
    start = time.monotonic()
    try:
        first = load_config(stages()[0][1], config_dir / "contrastive.yaml", {"data": data})
        if dist.main:
            ensure_dataset(Path(first.data), resolve_path(config_dir / "data.yaml"))
        if dist.world > 1:
            import torch
            torch.distributed.barrier()
        timings["data"] = time.monotonic() - start
        out = None
        for name, cls, run in stages():
            if only and name not in only:
                continue
            t = time.monotonic()
            cfg = load_config(cls, config_dir / f"{name}.yaml", {"data": data})
            out = run(cfg, resume=resume)
            timings[name] = time.monotonic() - t
        report = None
        if dist.main and out is not None and eval_limit != 0:
            t = time.monotonic()
            report = evaluate_checkpoint(out, Path(first.data) / "test.jsonl", eval_limit)
            timings["eval"] = time.monotonic() - t
    finally:
        close_distributed()
    timings["total"] = time.monotonic() - start
    if dist.main:
        summary = {"timings_s": {k: round(v, 1) for k, v in timings.items()}, "checkpoint": str(out),
                   "world_size": dist.world}
        Path("runs").mkdir(exist_ok=True)
        Path("runs/pipeline.json").write_text(json.dumps(summary, indent=1))
        if report:
            print(report)
        print("stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
        return summary
    return {}


def evaluate_checkpoint(checkpoint: Path, cases: Path, limit: int | None) -> str:
    from ..model import OctopusAgent
    from .evaluate import eval_file
    agent = OctopusAgent.load(str(checkpoint))
    report = eval_file(agent, cases, Path("runs/eval-test-predictions.jsonl"), limit)
    Path("runs/eval-test.txt").write_text(report, encoding="utf-8")
    return report
