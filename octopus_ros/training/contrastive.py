"""Stage 1 of the Octopus recipe: contrastive alignment of the image tower with bilingual captions.

The ImageNet trunk stays frozen (its features are cached); the CLIP projection head of the image tower and
a small open_clip text tower learn, with open_clip's symmetric InfoNCE loss (ClipLoss), to match each
caption frame with its object's name in English or Chinese. Only the image head is kept afterwards: it
feeds the projector of the later stages. A batch never holds two frames of the same object, so there are
no false negatives.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from torch import nn

from ..model.checkpoint import save_checkpoint
from ..model.vision import OPEN_CLIP_CONFIGS
from .features import cache_file, trunk_features
from .functional import setup_stage
from .loop import LoopConfig, finish_distributed, init_distributed, train_loop
from .synth.captions import read_captions


@dataclass
class ContrastiveConfig:
    data: str = "data/default"
    functions: str = "config/functions.yaml"
    profile: str = "default"
    out: str = "runs/contrastive/checkpoint"
    run_dir: str = "runs/contrastive"
    init_from: str | None = None
    steps: int = 300
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 20
    save_every: int = 100
    log_every: int = 10
    seed: int = 0
    threads: int = 2


class CaptionContrast(nn.Module):
    """Image head (trained) + text tower (trained, discarded afterwards) + open_clip's ClipLoss."""

    def __init__(self, model, text_tower: open_clip.CLIP, tokenizer, features: dict[str, torch.Tensor]):
        super().__init__()
        self.model = model
        self.text = text_tower
        self.tokenizer = tokenizer
        self.features = features
        self.loss = open_clip.loss.ClipLoss()

    def forward(self, batch: list[tuple[str, str]]):
        images = torch.stack([self.features[path] for path, _ in batch])
        image_emb = F.normalize(self.model.vision.head_features(images), dim=-1)
        text_emb = F.normalize(self.text.encode_text(self.tokenizer([caption for _, caption in batch])), dim=-1)
        scale = self.text.logit_scale.exp().clamp(max=100)
        loss = self.loss(image_emb, text_emb, scale)
        with torch.no_grad():
            acc = ((image_emb @ text_emb.t()).argmax(-1) == torch.arange(len(batch))).float().mean().item()
        return loss, {"acc": acc}


def text_tower(profile) -> tuple[open_clip.CLIP, object]:
    """A fresh CLIP of the profile's open_clip config; only its text side is used here."""
    name = profile.vision.get("open_clip_config")
    if not name:
        raise ValueError("stage 1 needs a profile whose vision tower is built from an open_clip config "
                         "(a hub CLIP model is already contrastively trained: skip this stage)")
    cfg = json.loads((OPEN_CLIP_CONFIGS / f"{name}.json").read_text())
    cfg.pop("preprocess_cfg", None)
    clip = open_clip.CLIP(**cfg)
    clip.visual = nn.Identity()   # the image side is the Octopus model's own tower
    tokenizer = open_clip.SimpleTokenizer(context_length=cfg["text_cfg"]["context_length"])
    return clip, tokenizer


def train_contrastive(cfg: ContrastiveConfig, resume: bool = True) -> Path:
    dist = init_distributed()
    registry, profile, model = setup_stage(cfg, dist)
    captions = read_captions(Path(cfg.data))
    paths = [str(Path(cfg.data) / row["image"]) for row in captions]
    features = trunk_features(model, paths, cache_file(Path(cfg.data), profile.name))
    by_object: dict[str, list[tuple[str, str]]] = {}
    for row, path in zip(captions, paths):
        pairs = [(path, row[lang]) for lang in ("en", "zh") if row.get(lang)]
        by_object.setdefault(row["object"], []).extend(pairs)
    objects = sorted(by_object)
    batch_size = min(cfg.batch_size, len(objects))

    def next_batch(step: int) -> list[tuple[str, str]]:
        rng = random.Random(hash((cfg.seed, step, dist.rank)) & 0xFFFFFFFF)
        return [rng.choice(by_object[o]) for o in rng.sample(objects, batch_size)]

    clip, tokenizer = text_tower(profile)
    objective = CaptionContrast(model, clip, tokenizer, features)
    head = [p for p in model.vision.visual.head.parameters()]
    for p in head + list(clip.parameters()):
        p.requires_grad_(True)
    train_loop(objective, [{"params": head + list(clip.parameters()), "lr": cfg.lr}], next_batch,
               LoopConfig(cfg.steps, cfg.warmup, cfg.run_dir, cfg.save_every, cfg.log_every), dist,
               desc="stage 1 contrastive", resume=resume)
    out = Path(cfg.out)
    if dist.main:
        save_checkpoint(out, model, profile.raw, Path(cfg.functions), registry.fingerprint(), [],
                        info={"stage": "contrastive", "steps": cfg.steps, "caption_frames": len(captions),
                              "objects": len(objects)})
        print(f"stage 1 checkpoint written to {out}")
    finish_distributed(dist)
    return out
