"""Stage 2 of the Octopus recipe: projector alignment. The LM (and the image tower) stay frozen; only the
projector learns to turn image features into LM input vectors from which the LM says what it sees:

    <bos> [image x K] "The object in the picture:" -> " mug"        (English)
    <bos> [image x K] "图片里的东西：" -> "杯子"                        (Chinese)

The loss is the cross-entropy of the name tokens over the names' vocabulary (all caption tokens), the same
candidate-subset scoring constrained decoding uses, which keeps a step cheap despite a 262k vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..model.checkpoint import save_checkpoint
from .features import cache_file, image_inputs, trunk_features
from .functional import setup_stage
from .loop import EpochSampler, LoopConfig, finish_distributed, init_distributed, train_loop
from .synth.captions import read_captions

PROMPTS = {"en": "The object in the picture:", "zh": "图片里的东西："}


@dataclass
class AlignConfig:
    data: str = "data/default"
    functions: str = "config/functions.yaml"
    profile: str = "default"
    out: str = "runs/align/checkpoint"
    run_dir: str = "runs/align"
    init_from: str | None = "runs/contrastive/checkpoint"
    steps: int = 150
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 10
    save_every: int = 50
    log_every: int = 10
    seed: int = 0
    threads: int = 2


@dataclass
class CaptionExample:
    image_key: str
    prompt_ids: list[int]     # <bos> prompt (the image goes after <bos>)
    target_ids: list[int]     # the name's tokens


def caption_examples(model, data: Path, captions: list[dict]) -> list[CaptionExample]:
    bos = model.tokenizer.bos_token_id
    examples = []
    for row in captions:
        for lang, prompt in PROMPTS.items():
            name = row.get(lang)
            if not name:
                continue
            text_ids = model.tokenizer(prompt, add_special_tokens=False).input_ids
            target = model.tokenizer((" " if lang == "en" else "") + name, add_special_tokens=False).input_ids
            examples.append(CaptionExample(str(data / row["image"]), ([bos] if bos is not None else []) + text_ids,
                                           target))
    return examples


class CaptionLoss(nn.Module):
    def __init__(self, model, candidate_ids: list[int], features: dict[str, torch.Tensor]):
        super().__init__()
        self.model = model
        self.features = features
        self.register_buffer("candidate_ids", torch.tensor(candidate_ids), persistent=False)
        self.index_of = {t: j for j, t in enumerate(candidate_ids)}

    def forward(self, batch: list[CaptionExample]):
        m = self.model
        images = image_inputs(m, torch.stack([self.features[ex.image_key] for ex in batch]))
        rows, positions, targets = [], [], []
        for b, ex in enumerate(batch):
            emb = m.embed_ids(torch.tensor(ex.prompt_ids + ex.target_ids[:-1]))
            rows.append(torch.cat([emb[:1], images[b], emb[1:]]))
            first = images.shape[1] + len(ex.prompt_ids) - 1
            positions += [(b, first + k) for k in range(len(ex.target_ids))]
            targets += [self.index_of[t] for t in ex.target_ids]
        hidden = m.hidden_of_rows(rows)
        pb, pp = zip(*positions)
        logits = m.token_logits(hidden[list(pb), list(pp)], m.output_rows(self.candidate_ids))
        target = torch.tensor(targets)
        loss = F.cross_entropy(logits, target)
        return loss, {"acc": (logits.argmax(-1) == target).float().mean().item()}


def train_align(cfg: AlignConfig, resume: bool = True) -> Path:
    dist = init_distributed()
    registry, profile, model = setup_stage(cfg, dist)
    data = Path(cfg.data)
    examples = caption_examples(model, data, read_captions(data))
    features = trunk_features(model, [ex.image_key for ex in examples], cache_file(data, profile.name))
    vocab = sorted({t for ex in examples for t in ex.target_ids})
    params = list(model.projector.parameters())
    for p in params:
        p.requires_grad_(True)
    sampler = EpochSampler(len(examples), cfg.seed)
    train_loop(CaptionLoss(model, vocab, features), [{"params": params, "lr": cfg.lr}],
               lambda step: [examples[i] for i in sampler.batch(step, cfg.batch_size, dist)],
               LoopConfig(cfg.steps, cfg.warmup, cfg.run_dir, cfg.save_every, cfg.log_every), dist,
               desc="stage 2 projector", resume=resume)
    out = Path(cfg.out)
    if dist.main:
        save_checkpoint(out, model, profile.raw, Path(cfg.functions), registry.fingerprint(), [],
                        info={"stage": "align", "steps": cfg.steps, "caption_examples": len(examples),
                              "init_from": cfg.init_from})
        print(f"stage 2 checkpoint written to {out}")
    finish_distributed(dist)
    return out
