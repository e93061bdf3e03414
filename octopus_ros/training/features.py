"""Frozen image-trunk features, computed once per image file and cached next to the dataset.

Every stage trains on top of the frozen ImageNet trunk, so each picture goes through it once; the
trainable projection head (stage 1) and projector (stages 2-4) run on the cached vectors.
"""
from __future__ import annotations

from pathlib import Path

import torch
from tqdm import tqdm

from .evaluate import load_rgb


def cache_file(data_dir: Path, profile_name: str) -> Path:
    return Path(data_dir) / f"image_trunk.{profile_name}.pt"


@torch.no_grad()
def trunk_features(model, paths: list[str], cache: Path, batch: int = 32) -> dict[str, torch.Tensor]:
    """{image path: trunk feature vector} for every path, reading and extending the cache file."""
    known = torch.load(cache) if cache.exists() else {}
    todo = [p for p in sorted(set(paths)) if p not in known]
    for i in tqdm(range(0, len(todo), batch), desc="image features", unit="batch", disable=not todo):
        chunk = todo[i:i + batch]
        feats = model.vision.trunk_features(model.vision.preprocess([load_rgb(Path(p)) for p in chunk]))
        known.update({p: f.clone() for p, f in zip(chunk, feats)})
    if todo:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(known, cache)
    return known


def image_inputs(model, features: torch.Tensor) -> torch.Tensor:
    """Cached trunk features [B,D] -> LM input vectors [B,K,H] through the head and the projector."""
    return model.project_features(model.vision.head_features(features))
