"""`octopus-ros train soup`: the uniform average ("soup") of checkpoints trained from the same base.

Checkpoints that differ only in their stage-3/4 seeds can be averaged into one model (session 28: the shipped
weights and a seed-1/2 retrain, averaged, were as good as the better seed on exact match and better on
`no_action`; docs/model/evaluation.md). Every trained tensor is averaged, except that LoRA adapters are combined
exactly: the mean of n updates scale * B_i A_i is one adapter of rank n * r, A = [A_1; ...; A_n] and
B = [B_1, ..., B_n] / n, with alpha multiplied by n so that alpha / rank, the scale, stays the same. The result
merges into the LM at load like any adapter, so it costs no latency or memory at inference; only the file grows.

The first checkpoint supplies everything else (octopus.json's decoding rules, functions.yaml, the lexicon): the
ingredients must share the profile (up to the LoRA rank and alpha), the action set and the trained tensors' names.
"""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..model.checkpoint import META_FILE, WEIGHTS_FILE, read_meta, read_trained_state
from ..model.profile import LoraConfig, ModelProfile, profile_from_dict


class SoupError(ValueError):
    """The checkpoints cannot be averaged (different profiles, action sets or tensors). An unreadable checkpoint
    is a ModelLoadError, as when it is loaded."""


def _scale(lora: LoraConfig) -> float:
    return lora.alpha / lora.rank


def _without_rank(profile: ModelProfile) -> tuple:
    """What the ingredients must share: the towers, and the head with the LoRA rank and alpha (which a soup
    changes) left out."""
    lora = {k: v for k, v in vars(profile.head.lora).items() if k not in ("rank", "alpha")}
    head = {k: v for k, v in vars(profile.head).items() if k != "lora"}
    return profile.vision, profile.lm, head, lora


def average_checkpoints(folders: list[Path], out: Path) -> Path:
    """Write the uniform average of `folders` (two or more checkpoint folders) to `out`; returns `out`."""
    if len(folders) < 2:
        raise SoupError("give two or more checkpoints to average")
    if Path(out).resolve() in {Path(f).resolve() for f in folders}:
        raise SoupError(f"{out} is one of the checkpoints: write the average to a new folder")
    metas = [read_meta(Path(f)) for f in folders]
    profiles = [profile_from_dict(m["profile"]) for m in metas]
    first, lora = metas[0], profiles[0].head.lora
    for folder, meta, profile in zip(folders[1:], metas[1:], profiles[1:]):
        if _without_rank(profile) != _without_rank(profiles[0]):
            raise SoupError(f"{folder} has another model profile than {folders[0]}")
        if meta["functions_fingerprint"] != first["functions_fingerprint"]:
            raise SoupError(f"{folder} was trained for another action set than {folders[0]}")
        if _scale(profile.head.lora) != _scale(lora):
            raise SoupError(f"{folder} scales its LoRA updates differently from {folders[0]}")
    states = [read_trained_state(Path(f)) for f in folders]
    for folder, state in zip(folders[1:], states[1:]):
        if set(state) != set(states[0]):
            raise SoupError(f"{folder} holds other trained tensors than {folders[0]}")
    n = len(states)
    soup = {}
    for name, tensor in states[0].items():
        parts = [state[name].float() for state in states]
        if name.endswith("lora_a"):     # [rank, in]: the ingredients' ranks stacked
            soup[name] = torch.cat(parts, 0)
        elif name.endswith("lora_b"):   # [out, rank]: side by side, each update weighted 1/n
            soup[name] = torch.cat(parts, 1) / n
        else:
            soup[name] = torch.stack(parts).mean(0)
        soup[name] = soup[name].to(tensor.dtype).contiguous()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for item in Path(folders[0]).iterdir():
        if item.is_file() and item.name not in (META_FILE, WEIGHTS_FILE):
            shutil.copyfile(item, out / item.name)
    meta = copy.deepcopy(first)
    written = meta["profile"].setdefault("head", {}).setdefault("lora", {})
    written["rank"] = sum(p.head.lora.rank for p in profiles)
    alpha = _scale(lora) * written["rank"]
    written["alpha"] = int(alpha) if float(alpha).is_integer() else alpha
    meta["info"] = {**meta.get("info", {}), "soup_of": [str(f) for f in folders]}
    save_file(soup, str(out / WEIGHTS_FILE))
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    return out
