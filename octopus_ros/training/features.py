"""Frozen image-trunk features, computed once per image file and cached next to the dataset.

Every stage trains on top of the frozen ImageNet trunk, so each picture goes through it once; the
trainable projection head (stage 1) and projector (stages 2-4) run on the cached vectors.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from .evaluate import load_rgb


# v2 (session 8): features computed with the tower in eval mode, as at inference. v1 caches were computed
# in train mode, i.e. with each batch's own BatchNorm statistics, so they did not match what the deployed
# model sees; they are ignored.
FEATURES_VERSION = 2


def cache_file(data_dir: Path, profile_name: str, variant: str = "") -> Path:
    """`variant` names a transform of the frames (e.g. a centre crop), which gets a cache of its own."""
    return Path(data_dir) / f"image_trunk.{profile_name}{'.' + variant if variant else ''}.v{FEATURES_VERSION}.pt"


@torch.no_grad()
def trunk_features(model, paths: list[str], cache: Path, batch: int = 32,
                   transform: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, torch.Tensor]:
    """{image path: trunk feature vector} for every path, reading and extending the cache file. `transform`
    is applied to each RGB frame first (use a cache file of its own for it)."""
    transform = transform or (lambda frame: frame)
    known = torch.load(cache) if cache.exists() else {}
    todo = [p for p in sorted(set(paths)) if p not in known]
    vision, was_training = model.vision, model.vision.training
    vision.eval()   # BatchNorm with its running statistics, as at inference, not the batch's
    try:
        for i in tqdm(range(0, len(todo), batch), desc="image features", unit="batch", disable=not todo):
            chunk = todo[i:i + batch]
            feats = vision.trunk_features(vision.preprocess([transform(load_rgb(Path(p))) for p in chunk]))
            known.update({p: f.clone() for p, f in zip(chunk, feats)})
    finally:
        vision.train(was_training)
    if todo:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(known, cache)
    return known


def image_inputs(model, features: torch.Tensor) -> torch.Tensor:
    """Cached trunk features [B,D] -> LM input vectors [B,K,H] through the head and the projector."""
    return model.project_features(model.vision.head_features(features))
