"""Checkpoint folders: only the parts octopus_ros trained, on top of pinned base weights.

<dir>/octopus.json         format version, the model profile, functions fingerprint, argument vocabulary,
                           span rules, frame, value and pointing phrases, command words (training.span_rules,
                           model/wording.py, model/spelling.py; optional, absent in stage 1-2 checkpoints)
<dir>/functions.yaml       the action set the checkpoint was trained for (a snapshot)
<dir>/trained.safetensors  projector, image-tower projection, new token rows, LoRA adapters
<dir>/lexicon.safetensors  optional: the object lexicon (octopus_ros.model.lexicon), written by stage 5
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .errors import ModelLoadError

FORMAT_VERSION = 1
META_FILE = "octopus.json"
WEIGHTS_FILE = "trained.safetensors"
FUNCTIONS_FILE = "functions.yaml"


def is_checkpoint(path: Path) -> bool:
    return path.is_dir() and (path / META_FILE).exists()


def save_checkpoint(out: Path, model, profile_raw: dict, functions_yaml: Path, fingerprint: str,
                    arg_vocab: list[int], info: dict | None = None, span_args: dict | None = None,
                    wording: dict | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    save_file(model.trained_state_dict(), str(out / WEIGHTS_FILE))
    if Path(functions_yaml).resolve() != (out / FUNCTIONS_FILE).resolve():
        shutil.copyfile(functions_yaml, out / FUNCTIONS_FILE)
    profile = {k: v for k, v in profile_raw.items() if k != "checkpoint"}
    meta = {"format": FORMAT_VERSION, "profile": profile, "functions_fingerprint": fingerprint,
            "arg_vocab": sorted(set(arg_vocab)), "info": info or {}}
    if span_args:
        meta["span_args"] = span_args
    meta.update(wording or {})   # frame, value and pointing phrases (training.span_rules.train_wording)
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    return out


def read_meta(path: Path) -> dict:
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"checkpoint {path}: cannot read {META_FILE}: {exc}") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise ModelLoadError(f"checkpoint {path}: format {meta.get('format')!r}, expected {FORMAT_VERSION}")
    return meta


def read_trained_state(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's trained tensors (trained.safetensors), by name."""
    try:
        return load_file(str(Path(path) / WEIGHTS_FILE))
    except Exception as exc:  # safetensors raises several types for truncated/corrupt files
        raise ModelLoadError(f"checkpoint {path}: {WEIGHTS_FILE} is missing or corrupt: {exc}") from exc


def load_trained_weights(model, path: Path) -> None:
    state = read_trained_state(path)
    expected = model.trained_state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelLoadError(f"checkpoint {path} does not fit this model profile: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise ModelLoadError(f"checkpoint {path}: {name} has shape {tuple(tensor.shape)}, "
                                 f"the model expects {tuple(expected[name].shape)}")
    with torch.no_grad():
        model.load_state_dict(state, strict=False)
