"""Stage 3 of the Octopus recipe: learn the functional tokens on (image, command) -> call examples.

Trains only: the projector (image -> LM inputs), the new token rows (input embeddings of <octo_call> and
the functional tokens, output rows of the functional tokens) and LoRA adapters on the top decoder layers.
The image tower is frozen, so its features are computed once per image and cached on disk.
Loss: cross-entropy of the functional token over the functions (what decoding step 1 scores), plus
cross-entropy of each argument token over the candidate vocabulary (what constrained decoding scores).
Runs on one CPU process or many under torchrun (DistributedDataParallel, gloo or nccl).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..actions import ActionRegistry
from ..model.checkpoint import load_trained_weights, save_checkpoint
from ..model.factory import build_model
from ..model.profile import load_profile
from .cases import Case, read_cases
from .evaluate import load_rgb


@dataclass
class FunctionalConfig:
    data: str = "data/default"
    functions: str = "config/functions.yaml"
    profile: str = "default"
    out: str = "models/default"
    run_dir: str = "runs/functional"
    init_from: str | None = None       # a checkpoint whose trained parts start this stage (e.g. stage 2's)
    steps: int = 400
    batch_size: int = 16
    lr: float = 1e-3
    lora_lr: float = 3e-4
    warmup: int = 20
    max_train_examples: int | None = None
    eval_examples: int = 150
    save_every: int = 50
    log_every: int = 10
    seed: int = 0
    threads: int = 2
    extra: dict = field(default_factory=dict)


@dataclass
class Example:
    prompt_ids: list[int]       # <bos> text <octo_call>
    function_index: int
    arg_ids: list[int]          # tokens of "('red mug')"
    image_key: str | None


def encode_cases(model, registry: ActionRegistry, cases: list[Case]) -> list[Example]:
    examples = []
    for case in cases:
        call_text = registry.format_call(case.function, case.arguments)
        function = registry.by_name(case.function)
        argument_text = call_text[len(function.token):-len(registry.end_token)]
        arg_ids = [] if function.name == registry.no_action.name else \
            model.tokenizer(argument_text, add_special_tokens=False).input_ids
        examples.append(Example(model.prompt_ids(case.text), function.index, arg_ids,
                                str(case.image) if case.image else None))
    return examples


@torch.no_grad()
def image_features(model, paths: list[str], cache_file: Path, batch: int = 32) -> dict[str, torch.Tensor]:
    """Frozen image-tower features per image file, cached in cache_file (keyed by path)."""
    cache = torch.load(cache_file) if cache_file.exists() else {}
    todo = [p for p in sorted(set(paths)) if p not in cache]
    for i in tqdm(range(0, len(todo), batch), desc="image features", unit="batch", disable=not todo):
        chunk = todo[i:i + batch]
        feats = model.vision(model.vision.preprocess([load_rgb(Path(p)) for p in chunk]))
        cache.update({p: f.clone() for p, f in zip(chunk, feats)})
    if todo:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        torch.save(cache, cache_file)
    return cache


class FunctionalLoss(nn.Module):
    """Wraps the model so DistributedDataParallel sees one forward per batch."""

    def __init__(self, model, candidate_ids: list[int]):
        super().__init__()
        self.model = model
        self.register_buffer("candidate_ids", torch.tensor(candidate_ids), persistent=False)
        self.index_of = {t: j for j, t in enumerate(candidate_ids)}

    def forward(self, batch: list[Example], features: dict[str, torch.Tensor]):
        m = self.model
        rows, fn_pos, arg_pos, arg_tgt = [], [], [], []
        for b, ex in enumerate(batch):
            ids = torch.tensor(ex.prompt_ids + [m.function_token_id(ex.function_index)] + ex.arg_ids[:-1])
            emb = m.embed_ids(ids)
            offset = 0
            if ex.image_key is not None:
                img = m.project_features(features[ex.image_key].unsqueeze(0))[0]
                emb = torch.cat([emb[:1], img, emb[1:]])
                offset = img.shape[0]
            call_pos = offset + len(ex.prompt_ids) - 1
            rows.append(emb)
            fn_pos.append((b, call_pos))
            for k, tok in enumerate(ex.arg_ids):
                arg_pos.append((b, call_pos + 1 + k))
                arg_tgt.append(self.index_of[tok])
        length = max(r.shape[0] for r in rows)
        embeds = torch.zeros(len(rows), length, m.hidden_size)
        mask = torch.zeros(len(rows), length, dtype=torch.long)
        for b, r in enumerate(rows):
            embeds[b, :r.shape[0]] = r
            mask[b, :r.shape[0]] = 1
        hidden, _ = m.hidden(embeds, attention_mask=mask)
        fb, fp = zip(*fn_pos)
        fn_logits = m.function_logits(hidden[list(fb), list(fp)])
        fn_target = torch.tensor([ex.function_index for ex in batch])
        loss_fn = F.cross_entropy(fn_logits, fn_target)
        stats = {"fn_acc": (fn_logits.argmax(-1) == fn_target).float().mean().item()}
        loss = loss_fn
        if arg_pos:
            ab, ap = zip(*arg_pos)
            cand_rows = m.output_weight[self.candidate_ids]
            arg_logits = m.token_logits(hidden[list(ab), list(ap)], cand_rows)
            target = torch.tensor(arg_tgt)
            loss_arg = F.cross_entropy(arg_logits, target)
            loss = loss + loss_arg
            stats["arg_loss"] = loss_arg.item()
            stats["arg_acc"] = (arg_logits.argmax(-1) == target).float().mean().item()
        stats["fn_loss"] = loss_fn.item()
        return loss, stats


def candidate_vocab(tokenizer, examples: list[Example]) -> list[int]:
    ids = {t for ex in examples for t in ex.arg_ids}
    for code in range(32, 127):
        ids.update(tokenizer(chr(code), add_special_tokens=False).input_ids)
    return sorted(ids)


def trainable_parameters(model) -> tuple[list, list]:
    new, lora = [], []
    for name, p in model.named_parameters():
        if name.startswith(("projector.", "new_embed", "function_head")):
            new.append(p)
        elif ".lora_" in name:
            lora.append(p)
        else:
            continue
        p.requires_grad_(True)
    return new, lora


def train_functional(cfg: FunctionalConfig, resume: bool = True) -> Path:
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    if distributed:
        torch.distributed.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        rank = torch.distributed.get_rank()
    torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    registry = ActionRegistry.from_yaml(cfg.functions)
    profile = load_profile(cfg.profile)
    model = build_model(profile, [f.name for f in registry.functions], [f.description for f in registry.functions])
    if cfg.init_from:
        load_trained_weights(model, Path(cfg.init_from))
    data = Path(cfg.data)
    cases = read_cases(data / "train.jsonl")
    random.Random(cfg.seed).shuffle(cases)
    if cfg.max_train_examples:
        cases = cases[:cfg.max_train_examples]
    examples = encode_cases(model, registry, cases)
    features = image_features(model, [e.image_key for e in examples if e.image_key],
                              data / f"image_features.{profile.name}.pt")
    vocab = candidate_vocab(model.tokenizer, examples)
    new_params, lora_params = trainable_parameters(model)
    objective = FunctionalLoss(model, vocab)
    if distributed:
        objective = nn.parallel.DistributedDataParallel(objective, find_unused_parameters=True)
    optimizer = torch.optim.AdamW([{"params": new_params, "lr": cfg.lr},
                                   {"params": lora_params, "lr": cfg.lora_lr}], weight_decay=0.0)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    run_dir = Path(cfg.run_dir)
    state_file = run_dir / "state.pt"
    step = 0
    if resume and state_file.exists():
        state = torch.load(state_file, weights_only=False)
        model.load_state_dict(state["trained"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        if rank == 0:
            print(f"resumed from {state_file} at step {step}")
    world = torch.distributed.get_world_size() if distributed else 1
    order_rng = random.Random(cfg.seed)
    order: list[int] = []
    run_dir.mkdir(parents=True, exist_ok=True)
    log = open(run_dir / "metrics.jsonl", "a") if rank == 0 else None
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, desc="functional tokens", unit="step", disable=rank != 0)
    # skip the batches a resumed run has already consumed, so data order is the same as an unbroken run
    needed = (step + 1) * cfg.batch_size * world
    while step < cfg.steps:
        while len(order) < needed:
            epoch = list(range(len(examples)))
            order_rng.shuffle(epoch)
            order += epoch
        start = (step * world + rank) * cfg.batch_size
        batch = [examples[i] for i in order[start:start + cfg.batch_size]]
        scale = min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for g, lr in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr * scale
        t = time.perf_counter()
        loss, stats = objective(batch, features)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(new_params + lora_params, 1.0)
        optimizer.step()
        step += 1
        needed = (step + 1) * cfg.batch_size * world
        if rank == 0:
            stats.update(step=step, loss=loss.item(), step_s=time.perf_counter() - t)
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss']:.3f}", fn_acc=f"{stats['fn_acc']:.2f}")
            if step % cfg.log_every == 0:
                log.write(json.dumps(stats) + "\n")
                log.flush()
            if step % cfg.save_every == 0 or step == cfg.steps:
                torch.save({"trained": model.trained_state_dict(), "optimizer": optimizer.state_dict(),
                            "step": step, "config": asdict(cfg)}, state_file)
    bar.close()
    out = Path(cfg.out)
    if rank == 0:
        save_checkpoint(out, model, profile.raw, Path(cfg.functions), registry.fingerprint(), vocab,
                        info={"stage": "functional", "steps": cfg.steps, "train_examples": len(examples),
                              "batch_size": cfg.batch_size, "world_size": world})
        print(f"checkpoint written to {out}")
    if distributed:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return out
