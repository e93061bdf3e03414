"""`octopus-ros train ...` and `octopus-ros eval`."""
from __future__ import annotations

from pathlib import Path

import typer

train_app = typer.Typer(help="Train the Octopus model stage by stage (resumable; configs in config/train/).",
                        no_args_is_help=True)


def _run_stage(name: str, config: Path | None, overrides: dict, resume: bool) -> None:
    from .loop import close_distributed
    from .pipeline import ConfigError, load_config, stages

    cls, run = next((c, r) for n, c, r in stages() if n == name)
    try:
        cfg = load_config(cls, config or Path(f"config/train/{name}.yaml"), overrides)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc))
    try:
        run(cfg, resume=resume)
    finally:
        close_distributed()


CONFIG_HELP = "Stage config YAML (default: config/train/<stage>.yaml)."


@train_app.command("contrastive")
def contrastive(config: Path = typer.Option(None, help=CONFIG_HELP),
                steps: int = typer.Option(None, help="Override the number of optimiser steps."),
                data: str = typer.Option(None, help="Override the dataset folder."),
                resume: bool = typer.Option(True, help="Continue from run_dir/state.pt if it exists.")) -> None:
    """Stage 1: contrastive alignment of the image head with English and Chinese captions (open_clip loss)."""
    _run_stage("contrastive", config, {"steps": steps, "data": data}, resume)


@train_app.command("align")
def align(config: Path = typer.Option(None, help=CONFIG_HELP),
          steps: int = typer.Option(None, help="Override the number of optimiser steps."),
          data: str = typer.Option(None, help="Override the dataset folder."),
          resume: bool = typer.Option(True, help="Continue from run_dir/state.pt if it exists.")) -> None:
    """Stage 2: projector alignment (image -> its name in English / Chinese), LM frozen."""
    _run_stage("align", config, {"steps": steps, "data": data}, resume)


@train_app.command("functional")
def functional(config: Path = typer.Option(None, help=CONFIG_HELP),
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
    _run_stage("functional", config, {"steps": steps, "data": data, "out": out, "profile": profile,
                                      "max_train_examples": max_train_examples}, resume)


@train_app.command("refine")
def refine(config: Path = typer.Option(None, help=CONFIG_HELP),
           steps: int = typer.Option(None, help="Override the number of optimiser steps."),
           data: str = typer.Option(None, help="Override the dataset folder."),
           out: str = typer.Option(None, help="Override the output checkpoint folder."),
           resume: bool = typer.Option(True, help="Continue from run_dir/state.pt if it exists.")) -> None:
    """Stage 4: refinement with a verifiable reward (DPO on the model's own mistakes + a CE anchor)."""
    _run_stage("refine", config, {"steps": steps, "data": data, "out": out}, resume)


@train_app.command("lexicon")
def lexicon(config: Path = typer.Option(None, help=CONFIG_HELP),
            checkpoint: str = typer.Option(None, help="Override the checkpoint folder the lexicon is added to."),
            data: str = typer.Option(None, help="Override the dataset folder."),
            resume: bool = typer.Option(True, help="Accepted for symmetry with the other stages (always refits).")
            ) -> None:
    """Stage 5: the object lexicon that names what the camera shows (seconds, on cached image features).

    Example: octopus-ros train lexicon --checkpoint models/default
    """
    _run_stage("lexicon", config, {"checkpoint": checkpoint, "data": data}, resume)


@train_app.command("soup")
def soup(checkpoints: list[Path] = typer.Argument(..., help="Two or more checkpoint folders trained from the same "
                                                             "base (e.g. stages 3-4 with different seeds)."),
         out: Path = typer.Option(..., help="Folder to write the averaged checkpoint to.")) -> None:
    """Average checkpoints into one (a uniform "model soup"; LoRA updates averaged exactly, as one adapter of the
    summed rank). Decoding rules, action set and lexicon come from the first checkpoint.

    Example: octopus-ros train soup runs/seed0/checkpoint runs/seed1/checkpoint --out models/soup
    """
    from ..model.errors import ModelLoadError
    from .soup import SoupError, average_checkpoints

    try:
        path = average_checkpoints(checkpoints, out)
    except (SoupError, ModelLoadError) as exc:
        raise typer.BadParameter(str(exc))
    typer.echo(f"averaged {len(checkpoints)} checkpoints into {path}")


@train_app.command("all")
def train_all_command(config_dir: Path = typer.Option(Path("config/train"), help="Folder of the stage YAMLs."),
                      data: str = typer.Option(None, help="Override every stage's dataset folder."),
                      eval_limit: int = typer.Option(1000, help="Test cases evaluated at the end (0 = skip)."),
                      resume: bool = typer.Option(True, help="Resume each stage from its run_dir.")) -> None:
    """The whole pipeline: data (if missing) -> stages 1-5 -> evaluation. Writes models/default.

    Example: octopus-ros train all          (about 60-90 min on 2 CPU cores)
    Data-parallel: torchrun --nproc-per-node 2 -m octopus_ros.cli train all
    """
    from .pipeline import ConfigError, train_all

    try:
        train_all(config_dir, data, eval_limit, resume)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc))


def eval_command(cases: Path = typer.Option(..., help="Case file (JSONL) to evaluate on."),
                 model: str = typer.Option("default", help="Profile name/YAML or checkpoint folder."),
                 predictions: Path = typer.Option(None, help="Write one prediction per case (JSONL) here."),
                 limit: int = typer.Option(None, help="Evaluate only a fixed random sample of this many cases."),
                 threads: int = typer.Option(2, help="CPU threads for inference."),
                 quantize: str = typer.Option(None, help="Override the profile's quantisation: int8, "
                                                         "int8-embedding or none (to measure what it costs)."),
                 beams: int = typer.Option(None, min=1, help="Override the profile's argument beam width "
                                                             "(1 = greedy)."),
                 image_names: int = typer.Option(None, min=0, help="Override the lexicon's top_k: objects whose "
                                                                   "names an argument read from the frame may "
                                                                   "take (0 = lexicon off)."),
                 number_margin: float = typer.Option(None, min=0.0, help="Override the profile's number_margin: "
                                                                          "how much less likely a call with only "
                                                                          "the numbers the command said may be "
                                                                          "and still replace the model's (0 = "
                                                                          "off)."),
                 taught: Path = typer.Option(None, help="Objects taught from photos (`octopus-ros objects "
                                                        "teach`), named from the frame before the lexicon."),
                 tag: list[str] = typer.Option(None, help="Evaluate only the cases with this tag (repeat: all of "
                                                          "them), e.g. --tag number."),
                 skip_tag: list[str] = typer.Option(None, help="Leave out the cases with this tag (repeat: any "
                                                               "of them), e.g. --skip-tag image.")) -> None:
    """Evaluate a model on a case file: function accuracy, exact match, argument F1 by language and
    function, no_action precision/recall, 95% intervals of the target metrics (resampling the templates or
    photos the cases come from), confusions and latency p50/p95.

    Example: octopus-ros eval --cases data/default/test.jsonl --predictions out/pred.jsonl

    Choosing number_margin (docs/model/evaluation.md, Sessions 14 and 15): on the validation split, compare
    --tag number --skip-tag image with --number-margin 0 and with the profile's value.
    """
    from ..model import ModelLoadError, OctopusAgent
    from .cases import CaseFileError
    from .evaluate import eval_file

    try:
        agent = OctopusAgent.load(model, threads=threads, quantize=quantize, beams=beams,
                                  image_names=image_names, number_margin=number_margin, taught=taught)
        typer.echo(eval_file(agent, cases, predictions, limit, tag or (), skip_tag or ()))
    except (ModelLoadError, CaseFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)


def compare_command(cases: Path = typer.Option(..., help="The case file both prediction files answer."),
                    baseline: Path = typer.Option(..., help="Predictions (JSONL, `octopus-ros eval --predictions`) "
                                                            "of the model to compare against, e.g. the shipped one."),
                    candidate: Path = typer.Option(..., help="Predictions of the new model (e.g. a retrain)."),
                    top: int = typer.Option(8, min=0, help="Phrasings listed that changed most, each way."),
                    no_action: str = typer.Option("no_action", help="The action set's refusal function (its "
                                                                    "functions.yaml `no_action`).")) -> None:
    """Compare two models' predictions on the same cases: the target metrics with a 95% interval of each
    difference (one bootstrap over the cases' templates, both sides alike), exact match by language and tag,
    how many cases each got right alone, and the phrasings that moved most. Runs no model (seconds).

    The interval is over the cases, not over retrains: one retrain is one draw of the training's run-to-run spread
    (docs/model/evaluation.md, Session 24).

    Example: octopus-ros compare --cases data/default/test.jsonl --baseline shipped.jsonl --candidate retrain.jsonl
    """
    from .cases import CaseFileError
    from .compare import compare

    try:
        typer.echo(compare(cases, baseline, candidate, no_action=no_action, top=top))
    except CaseFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
