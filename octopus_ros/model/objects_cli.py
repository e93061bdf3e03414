"""`octopus-ros objects ...`: teach the agent objects from a few photos, list and forget them.

The taught objects live in one small file (model/taught_objects.py); the node reads it with the parameter
`taught_objects`, `infer` and `eval` with `--taught`. Teaching reads only the image tower, not the LM.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .errors import ModelLoadError
from .taught_objects import DEFAULT_TAUGHT_FILE

app = typer.Typer(help="Teach the agent objects from a few photos (named from the camera without retraining); "
                       "list and forget them.", no_args_is_help=True)

_FILE_HELP = ("Taught-objects file; give the same path to the node's taught_objects parameter or to "
              "`infer`/`eval --taught`.")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _load_or_new(path: Path, profile: str, crop: float, feature_dim: int):
    from .taught_objects import TaughtObjects

    if not path.expanduser().exists():
        return TaughtObjects(profile, crop, feature_dim)
    taught = TaughtObjects.load(path)
    taught.matches(profile, crop, feature_dim)
    return taught


def _lessons(name: Optional[str], zh: str, photos: list[Path], from_file: Optional[Path]) -> list[tuple[str, str, list[Path]]]:
    """(English name, Chinese name, photo paths) of each object to teach, from the arguments or a JSONL file."""
    if from_file is None:
        if not name or not photos:
            raise _fail("give a name and at least one photo (octopus-ros objects teach \"blue mug\" --zh 蓝杯子 "
                        "a.jpg b.jpg), or --from FILE.jsonl")
        return [(name, zh, photos)]
    if name or photos:
        raise _fail("give either a name and photos or --from, not both")
    lessons, number = [], 0
    try:
        for number, line in enumerate(from_file.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                lessons.append((row.get("en", ""), row.get("zh", ""), [from_file.parent / p for p in row["photos"]]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _fail(f"{from_file}: line {number}: expected {{\"en\", \"zh\", \"photos\": [...]}}: {exc}")
    return lessons


@app.command()
def teach(name: Optional[str] = typer.Argument(None, help="The object's English name (what a call will say)."),
          photos: Optional[list[Path]] = typer.Argument(None, help="Photos of the object, filling the middle of the "
                                                                   "frame; 3-8 from different sides work best."),
          zh: str = typer.Option("", help="The object's Chinese name (default: the English one in both)."),
          from_file: Optional[Path] = typer.Option(None, "--from", help="Teach many objects: a JSONL file, one "
                                                   "{\"en\", \"zh\", \"photos\": [...]} per line (paths relative "
                                                   "to the file), as `octopus-ros data teach-photos` writes."),
          file: Path = typer.Option(DEFAULT_TAUGHT_FILE, help=_FILE_HELP),
          model: str = typer.Option("default", help="Model profile name, profile YAML or checkpoint folder."),
          replace: bool = typer.Option(False, help="Forget the object's earlier photos instead of adding to them.")) -> None:
    """Teach the agent an object from a few photos: afterwards, "pick that up" with the object in view names it.

    A frame is named after a taught object when one of its photos looks more like the frame than every picture the model was trained on, so teach each object from several sides. For each photo, prints what the object's other photos name it (a photo that only a training picture resembles points to a view the robot may miss).

    Example: octopus-ros objects teach "blue mug" --zh 蓝杯子 mug1.jpg mug2.jpg mug3.jpg

    then: octopus-ros run --taught ~/.local/share/octopus_ros/taught_objects.safetensors
    """
    from ..images import ImageError, load_image_file
    from .agent import resolve_model
    from .lexicon import known_pictures
    from .taught_objects import photo_features
    from .vision import build_vision

    lessons = _lessons(name, zh, photos or [], from_file)
    try:
        profile, checkpoint, _ = resolve_model(model)
        if checkpoint is None or profile.vision is None:
            raise ModelLoadError(f"model {model!r} has no trained checkpoint with an image tower to teach")
        known, crop = known_pictures(checkpoint)
        vision = build_vision(profile.vision)
        taught = _load_or_new(file, profile.name, crop, known.shape[1])
    except (ModelLoadError, OSError) as exc:
        raise _fail(str(exc))
    missed = False
    for en, zh_name, paths in lessons:
        try:
            frames = [load_image_file(p) for p in paths]
            obj = taught.teach(en, zh_name, photo_features(vision, frames, crop), replace=replace)
        except (ImageError, ValueError) as exc:
            raise _fail(f"{en or zh_name}: {exc} (nothing was saved)")
        own = obj.name("en")
        verdicts = taught.check(obj, known)
        unnamed = [f"{Path(p).name} -> {v}" for p, v in zip(paths, verdicts[-len(paths):]) if v != own]
        typer.echo(f"taught {obj.en!r} / {obj.zh!r}: {len(obj.features)} photos; each photo, left out, is named "
                   f"{own!r} by the others: {sum(v == own for v in verdicts)} of {len(verdicts)}"
                   + (f" (not: {', '.join(unnamed)})" if unnamed else ""))
        missed = missed or bool(unnamed)
    typer.echo(f"wrote {taught.save(file)}: {len(taught.objects)} objects")
    if missed:
        typer.echo("('known': a picture the model was trained on is nearer than the other photos; add photos from "
                   "that side, or closer ones)")


@app.command("teach-camera")
def teach_camera(name: str = typer.Argument(..., help="The object's English name (what a call will say)."),
                 zh: str = typer.Option("", help="The object's Chinese name."),
                 photos: int = typer.Option(5, min=1, help="Photos to take, one per --interval."),
                 interval: float = typer.Option(1.5, min=0.0, help="Seconds between photos: turn the object meanwhile."),
                 camera: str = typer.Option("", help="Camera topic of the node (default: its default camera)."),
                 replace: bool = typer.Option(False, help="Forget the object's earlier photos first."),
                 service: str = typer.Option("/octopus/teach_object", help="The node's octopus_ros/TeachObject service."),
                 timeout: float = typer.Option(30.0, help="Seconds to wait for the service.")) -> None:
    """Teach a running agent node an object from its own camera: hold the object in view and turn it between photos.

    The node adds each photo to the object and writes its taught_objects file (which must be set); the next command names the object.

    Example: octopus-ros objects teach-camera "blue mug" --zh 蓝杯子 --photos 5
    """
    import time

    from ..node.runtime import call_service, ros_client
    from ..srv import TeachObject

    request = TeachObject.Request(name_en=name, name_zh=zh, camera=camera)

    with ros_client() as (node, executor):
        client = node.create_client(TeachObject, service)
        for k in range(photos):
            if k:
                time.sleep(interval)
            request.replace = replace and k == 0
            response = call_service(node, executor, client, request, timeout)
            if response is None:
                raise _fail(f"no answer from {service} within {timeout:g} s (is the agent node running?)")
            if not response.success:
                raise _fail(response.error)
            typer.echo(f"photo {k + 1}: {name!r} has {response.photos} photos, {response.photos_named} named by the "
                       "others")


@app.command("list")
def list_objects(file: Path = typer.Option(DEFAULT_TAUGHT_FILE, help=_FILE_HELP)) -> None:
    """List the taught objects and how many photos each has."""
    from .taught_objects import TaughtObjects

    try:
        taught = TaughtObjects.load(file)
    except ModelLoadError as exc:
        raise _fail(str(exc))
    typer.echo(f"{file}: {len(taught.objects)} objects (profile {taught.profile!r}, crop {taught.crop})")
    for obj in taught.objects:
        typer.echo(f"  {obj.en or '-':24s} {obj.zh or '-':12s} {len(obj.features)} photos")


@app.command()
def forget(name: str = typer.Argument(..., help="The object's English or Chinese name."),
           file: Path = typer.Option(DEFAULT_TAUGHT_FILE, help=_FILE_HELP)) -> None:
    """Forget a taught object."""
    from .taught_objects import TaughtObjects

    try:
        taught = TaughtObjects.load(file)
    except ModelLoadError as exc:
        raise _fail(str(exc))
    if not taught.forget(name):
        raise _fail(f"no taught object is called {name!r} (see `octopus-ros objects list`)")
    taught.save(file)
    typer.echo(f"forgot {name!r}; {len(taught.objects)} objects left in {file}")
