"""Model profiles (config/model/*.yaml): which base weights, which head, which trained checkpoint."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ModelLoadError

PROFILES_DIR = Path(__file__).resolve().parents[2] / "config" / "model"
# none: fp32; int8: int8 decoder Linears + fp16 token embeddings; int8-embedding: the embeddings in int8 too
QUANTIZE_MODES = ("none", "int8", "int8-embedding")


def int8_layers(mode: str) -> bool:
    """Does quantize `mode` put the decoder's Linear layers in int8?"""
    return mode in ("int8", "int8-embedding")


def embedding_storage(mode: str) -> str:
    """How quantize `mode` stores the token-embedding matrix when it quantises the layers: fp16 or int8."""
    return "int8" if mode == "int8-embedding" else "fp16"


@dataclass
class LoraConfig:
    rank: int = 8
    alpha: float = 16.0
    top_layers: int = 6  # LoRA adapters on the top N decoder layers only (the lower ones stay frozen/cached)
    targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass
class HeadConfig:
    image_tokens: int = 4
    projector_hidden: int = 1024
    # Rescale every image token to the mean norm of the LM's token embeddings. Without it, stage 2 trained
    # to convergence grows image tokens to ~9x a word's norm, which swamps the command (see training.md).
    normalize_image_tokens: bool = False
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass
class ModelProfile:
    name: str
    vision: dict
    lm: dict
    head: HeadConfig
    checkpoint: Path | None
    quantize: str = "none"
    max_new_tokens: int = 48
    beams: int = 1   # argument decoding: 1 greedy, more = beam search over grammatical partial calls
    # A call with a number the command did not say is decoded again with only said numbers; the second call
    # is taken when its log-probability is at most this much lower (0: never, and a said number the call
    # leaves out is not looked for either; model/command_numbers.py)
    number_margin: float = 0.0
    seed: int = 0
    source: Path | None = None
    raw: dict = field(default_factory=dict)


def resolve_profile_path(name_or_path: str | Path) -> Path:
    """A path to a YAML file, or a profile name in config/model/ ('default', 'tiny-random')."""
    path = Path(name_or_path)
    if path.exists():
        return path
    candidate = PROFILES_DIR / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
    raise ModelLoadError(f"model profile {str(name_or_path)!r} not found (a YAML path, or one of {known})")


def profile_from_dict(raw: dict, source: Path | None = None) -> ModelProfile:
    try:
        head = dict(raw.get("head") or {})
        lora = LoraConfig(**(head.pop("lora", None) or {}))
        checkpoint = raw.get("checkpoint")
        if checkpoint and source is not None:
            checkpoint = (source.parent / checkpoint).resolve()
        if raw.get("quantize", "none") not in QUANTIZE_MODES:
            raise ValueError(f"quantize must be one of {', '.join(QUANTIZE_MODES)}, not {raw['quantize']!r}")
        return ModelProfile(
            name=raw["name"], vision=raw["vision"], lm=raw["lm"], head=HeadConfig(lora=lora, **head),
            checkpoint=Path(checkpoint) if checkpoint else None, quantize=raw.get("quantize", "none"),
            max_new_tokens=int(raw.get("max_new_tokens", 48)), beams=int(raw.get("beams", 1)),
            number_margin=float(raw.get("number_margin", 0.0)),
            seed=int(raw.get("seed", 0)),
            source=source, raw=raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"model profile {source or '<dict>'} is invalid: {exc}") from exc


def load_profile(name_or_path: str | Path) -> ModelProfile:
    path = resolve_profile_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"cannot read model profile {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelLoadError(f"model profile {path} is not a YAML mapping")
    return profile_from_dict(raw, path.resolve())
