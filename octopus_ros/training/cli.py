"""`octopus-ros train ...` and `octopus-ros eval`."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import typer
import yaml

train_app = typer.Typer(help="Train the Octopus model stage by stage (resumable; configs in config/train/).",
                        no_args_is_help=True)


def _config(cls, path: Path, overrides: dict):
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path and path.exists() else {}
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise typer.BadParameter(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**raw)


@train_app.command("functional")
def functional(config: Path = typer.Option(Path("config/train/functional.yaml"), help="Stage config YAML."),
               steps: int = typer.Option(None, help="Override the number of optimiser steps."),
               data: str = typer.Option(None, help="Override the dataset folder."),
               out: str = typer.Option(None, help="Override the output checkpoint folder."),
               profile: str = typer.Option(None, help="Override the model profile."),
               max_train_examples: int = typer.Option(None, help="Use only this many training examples."),
               resume: bool = typer.Option(True, help="Continue from run_dir/state.pt if it exists.")) -> None:
    """Stage 3: learn the functional tokens (projector, new token rows, LoRA on the top layers).

    Example: octopus-ros train functional --steps 400
    Under torchrun it trains data-parallel: torchrun --nproc-per-node 2 -m octopus_ros.cli train functional
    """
    from .functional import FunctionalConfig, train_functional

    cfg = _config(FunctionalConfig, config, {"steps": steps, "data": data, "out": out, "profile": profile,
                                             "max_train_examples": max_train_examples})
    train_functional(cfg, resume=resume)


def eval_command(cases: Path = typer.Option(..., help="Case file (JSONL) to evaluate on."),
                 model: str = typer.Option("default", help="Profile name/YAML or checkpoint folder."),
                 predictions: Path = typer.Option(None, help="Write one prediction per case (JSONL) here."),
                 limit: int = typer.Option(None, help="Evaluate only a fixed random sample of this many cases."),
                 threads: int = typer.Option(2, help="CPU threads for inference.")) -> None:
    """Evaluate a model on a case file: function accuracy, exact match, argument F1 by language and
    function, no_action precision/recall, confusions and latency p50/p95.

    Example: octopus-ros eval --cases data/default/test.jsonl --predictions out/pred.jsonl
    """
    from ..model import ModelLoadError, OctopusAgent
    from .cases import CaseFileError
    from .evaluate import eval_file

    try:
        agent = OctopusAgent.load(model, threads=threads)
        typer.echo(eval_file(agent, cases, predictions, limit))
    except (ModelLoadError, CaseFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
