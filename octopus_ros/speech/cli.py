"""Speech commands of `octopus-ros`: transcribe, speech-node, speech-models (see octopus_ros/cli.py SUBCOMMANDS)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

models_app = typer.Typer(help="Prepare, list and verify the speech models (config/speech/models.yaml).",
                         no_args_is_help=True)


def transcribe_command(
    file: Path = typer.Argument(..., help="Recording: .wav (PCM 8/16/32-bit or float, any rate/channels) or .raw "
                                          "(headerless, --raw-rate Hz S16LE mono)."),
    model: str = typer.Option("tiny.en", help="Speech model profile (tiny.en, base) or a CTranslate2 Whisper folder."),
    language: str = typer.Option("", help="Language hint (en, zh, ...); empty = detect."),
    allowed: str = typer.Option("en,zh", help="When detecting, restrict to these languages (comma separated; "
                                              "empty = any)."),
    vad: str = typer.Option("auto", help="Segment with the node's VAD first: auto, silero, energy, or none "
                                         "(the whole file is one utterance)."),
    beam_size: int = typer.Option(1, help="Decoder beam size (1 = greedy)."),
    threads: int = typer.Option(2, help="CPU threads."),
    raw_rate: int = typer.Option(16000, help="Sample rate of a .raw file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Transcribe a recording offline (no ROS): text, language, confidence and timing per utterance."""
    from octopus_ros.model.errors import ModelLoadError
    from octopus_ros.speech.audio import AudioError, TARGET_RATE, read_recording
    from octopus_ros.speech.recognizer import SpeechRecognizer, silero_sha256
    from octopus_ros.speech.vad import VadError, make_vad, segment

    try:
        samples = read_recording(file, raw_rate=raw_rate).mono16k()
    except AudioError as exc:
        typer.echo(f"octopus-ros: {exc}", err=True)
        raise typer.Exit(2)
    try:
        rec = SpeechRecognizer.load(model, threads=threads)
    except ModelLoadError as exc:
        typer.echo(f"octopus-ros: {exc}", err=True)
        raise typer.Exit(1)
    pieces: list[tuple[float, float, object]] = []
    vad_name = "none"
    if vad != "none":
        try:
            detector, note = make_vad(vad, silero_sha256=silero_sha256())
        except VadError as exc:
            typer.echo(f"octopus-ros: {exc}", err=True)
            raise typer.Exit(1)
        if note:
            typer.echo(f"octopus-ros: note: {note}", err=True)
        vad_name = detector.name
        t0 = time.perf_counter()
        utterances = segment(samples, detector)
        vad_ms = (time.perf_counter() - t0) * 1000
        pieces = [(u.start / TARGET_RATE, u.end / TARGET_RATE, u.audio) for u in utterances]
    else:
        vad_ms = 0.0
        pieces = [(0.0, len(samples) / TARGET_RATE, samples)]
    langs = [x.strip() for x in allowed.split(",") if x.strip()]
    results = []
    for start, end, audio in pieces:
        r = rec.transcribe(audio, language or None, beam_size=beam_size, allowed_languages=langs)
        results.append({"start_s": round(start, 3), "end_s": round(end, 3), **r.to_dict()})
    if as_json:
        typer.echo(json.dumps({"file": str(file), "duration_s": round(len(samples) / TARGET_RATE, 3),
                               "model": rec.describe(), "vad": vad_name, "vad_ms": round(vad_ms, 1),
                               "utterances": results}, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"{file}: {len(samples) / TARGET_RATE:.2f} s, model {rec.name} (loaded in {rec.load_ms:.0f} ms), "
                   f"vad {vad_name} ({vad_ms:.0f} ms), {len(results)} utterance(s)")
        for r in results:
            typer.echo(f"[{r['start_s']:6.2f}-{r['end_s']:6.2f} s] {r['text']!r}  language={r['language']} "
                       f"(p={r['language_probability']:.2f})  confidence={r['confidence']:.2f}  "
                       f"recognition={r['recognition_ms']:.0f} ms"
                       + (f"  [{r['language_note']}]" if r["language_note"] else ""))
        if not results:
            typer.echo("no speech detected")


def node_command(
    ros_args: Optional[list[str]] = typer.Argument(None, help="ROS arguments after `--`, e.g. "
                                                             "`-- --ros-args -p vad:=energy`."),
    model: str = typer.Option("", help="Speech model (overrides the params file's `model`)."),
    params_file: Optional[Path] = typer.Option(None, help="ROS parameters file (default: config/agent.yaml, "
                                                          "whose octopus_speech section holds the node's parameters)."),
) -> None:
    """Start the speech node: AudioData on /octopus/audio -> Transcript + Command.

    Example: octopus-ros speech-node --model base -- --ros-args -p language:=zh"""
    from octopus_ros.cli import default_params_file

    params = params_file or default_params_file()
    args = ["--ros-args"]
    if params is not None:
        args += ["--params-file", str(params)]
    if model:
        args += ["-p", f"model:={model}"]
    extra = list(ros_args or [])
    if extra and extra[0] == "--ros-args":
        extra = extra[1:]
    from octopus_ros.speech.speech_node import main as node_main

    raise typer.Exit(node_main(["octopus-ros", *args, *extra]))


@models_app.command("list")
def models_list() -> None:
    """List the speech model profiles."""
    from octopus_ros.speech.recognizer import load_config

    for name, spec in load_config()["profiles"].items():
        typer.echo(f"{name:8s} {spec.get('description', '')}  [{spec.get('package', '')}]")


@models_app.command("prepare")
def models_prepare(names: Optional[list[str]] = typer.Argument(None, help="Profiles (default: all).")) -> None:
    """Verify every pinned file (sha256) and join split model files into the cache."""
    from octopus_ros.model.errors import ModelLoadError
    from octopus_ros.speech.recognizer import prepare, profile_names

    failed = False
    for name in names or profile_names():
        try:
            t0 = time.perf_counter()
            path = prepare(name)
            typer.echo(f"{name}: ok ({path}, {time.perf_counter() - t0:.1f} s)")
        except ModelLoadError as exc:
            failed = True
            typer.echo(f"{name}: FAILED: {exc}", err=True)
    raise typer.Exit(1 if failed else 0)


@models_app.command("verify")
def models_verify(names: Optional[list[str]] = typer.Argument(None, help="Profiles (default: all).")) -> None:
    """Check the sha256 of every file of prepared speech models (changes nothing)."""
    from octopus_ros.model.errors import ModelLoadError
    from octopus_ros.speech.recognizer import profile_names, verify

    failed = False
    for name in names or profile_names():
        try:
            typer.echo(f"{name}: ok ({verify(name)})")
        except ModelLoadError as exc:
            failed = True
            typer.echo(f"{name}: FAILED: {exc}", err=True)
    raise typer.Exit(1 if failed else 0)
