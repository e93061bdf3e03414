"""The image tower: an open_clip CLIP image encoder, built by config name, weights from disk only.

Two ways to get weights, one function: `build_vision(spec)`:
- `open_clip_config` (a JSON in config/model/open_clip/) + `weights` from a registry package: the timm
  MobileNetV2 trunk is filled pairwise from torchvision's ImageNet file (same tensors, same order);
- `open_clip_model` + `pretrained` (a tag or a local file): open_clip's own factory, for users with
  model-hub access (e.g. MobileCLIP-S1 / datacompdr).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .base_weights import vision_weights_file
from .errors import ModelLoadError

OPEN_CLIP_CONFIGS = Path(__file__).resolve().parents[2] / "config" / "model" / "open_clip"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageEncoder(torch.nn.Module):
    """open_clip image tower + its preprocessing; `forward(pixels) -> [B, embed_dim]`."""

    def __init__(self, visual: torch.nn.Module, image_size: int, mean, std, embed_dim: int,
                 imagenet_head: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.visual = visual
        self.image_size = image_size
        self.embed_dim = embed_dim
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        # The ImageNet-1k classifier that came with the trunk's weights (pretrained, never trained here): the
        # object lexicon reads its class probabilities to name objects training had no picture of. Buffers,
        # not parameters, and not persistent: checkpoints hold only what this project trained.
        weight, bias = imagenet_head if imagenet_head is not None else (None, None)
        self.register_buffer("imagenet_weight", None if weight is None else weight.float(), persistent=False)
        self.register_buffer("imagenet_bias", None if bias is None else bias.float(), persistent=False)

    def preprocess(self, images: list[np.ndarray]) -> torch.Tensor:
        """HxWx3 uint8 RGB frames -> normalised [B,3,S,S]. The whole frame is resized (no crop), so
        objects at the edge of the camera view stay visible."""
        size = (self.image_size, self.image_size)
        arrays = [np.asarray(Image.fromarray(im).resize(size, Image.BILINEAR)) for im in images]
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
        return (pixels - self.mean) / self.std

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.visual(pixels)

    # Training keeps the ImageNet trunk frozen and trains only the projection head (stage 1), so it caches
    # trunk features once and applies the head on the fly. A tower without a separate head (a hub CLIP
    # model) caches its final embedding and has an identity head.
    def trunk_features(self, pixels: torch.Tensor) -> torch.Tensor:
        split = hasattr(self.visual, "trunk") and hasattr(self.visual, "head")
        return self.visual.trunk(pixels) if split else self.visual(pixels)

    def head_features(self, trunk: torch.Tensor) -> torch.Tensor:
        split = hasattr(self.visual, "trunk") and hasattr(self.visual, "head")
        return self.visual.head(trunk) if split else trunk

    def imagenet_probs(self, trunk: torch.Tensor) -> torch.Tensor | None:
        """Trunk features [B,D] -> ImageNet-1k class probabilities [B,1000], or None without a classifier
        (a hub tower, a random test tower)."""
        if self.imagenet_weight is None:
            return None
        return torch.softmax(trunk.float() @ self.imagenet_weight.t() + self.imagenet_bias, dim=-1)


def _load_torchvision_mobilenet(trunk: torch.nn.Module, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill the timm trunk from torchvision's file; return its ImageNet classifier (weight, bias)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    source = [(k, v) for k, v in state.items() if not k.startswith("classifier.")]
    target = [(k, v) for k, v in trunk.state_dict().items() if not k.startswith("classifier.")]
    if len(source) != len(target):
        raise ModelLoadError(f"{path}: {len(source)} tensors, the timm trunk has {len(target)}")
    mapped = {}
    for (sk, sv), (tk, tv) in zip(source, target):
        if sv.shape != tv.shape:
            raise ModelLoadError(f"{path}: {sk} {tuple(sv.shape)} does not fit {tk} {tuple(tv.shape)}")
        mapped[tk] = sv
    trunk.load_state_dict(mapped, strict=False)
    if "classifier.1.weight" not in state:
        raise ModelLoadError(f"{path} has no ImageNet classifier (classifier.1.weight)")
    return state["classifier.1.weight"], state["classifier.1.bias"]


def build_vision(spec: dict, *, load_weights: bool = True) -> ImageEncoder:
    import open_clip

    if "open_clip_model" in spec:  # model-hub profile: open_clip's factory resolves the tag or file
        model = open_clip.create_model(spec["open_clip_model"], pretrained=spec.get("pretrained"))
        cfg = open_clip.get_model_config(spec["open_clip_model"]) or {}
        mean = getattr(model.visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
        std = getattr(model.visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
        size = model.visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else size
        return ImageEncoder(model.visual, size, mean, std, cfg.get("embed_dim", model.text_projection.shape[1]))

    name = spec["open_clip_config"]
    config_file = OPEN_CLIP_CONFIGS / f"{name}.json"
    if not config_file.exists():
        raise ModelLoadError(f"open_clip config {config_file} not found")
    cfg = json.loads(config_file.read_text())
    pre = cfg.pop("preprocess_cfg", {})
    model = open_clip.CLIP(**cfg)
    weights = spec.get("weights")
    imagenet_head = None
    if load_weights and weights:
        if weights.get("format") != "torchvision_mobilenet_v2":
            raise ModelLoadError(f"unknown vision weights format {weights.get('format')!r}")
        imagenet_head = _load_torchvision_mobilenet(model.visual.trunk, vision_weights_file(weights))
    return ImageEncoder(model.visual, cfg["vision_cfg"]["image_size"], pre.get("mean", IMAGENET_MEAN),
                        pre.get("std", IMAGENET_STD), cfg["embed_dim"], imagenet_head)
