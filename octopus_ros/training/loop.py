"""The optimisation loop every training stage shares: data-parallel set-up, warm-up + cosine learning
rate, gradient clipping, progress bar, metrics.jsonl and resumable state in the stage's run_dir.

A stage supplies an `objective` module (forward(batch) -> (loss, stats dict)), parameter groups, and a
function that returns the batch for a step. Under torchrun each process takes its own slice of every
global batch and DistributedDataParallel averages the gradients (gloo on CPU, nccl on GPUs).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Dist()
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return Dist(torch.distributed.get_rank(), torch.distributed.get_world_size())


def finish_distributed(dist: Dist) -> None:
    """End of a stage: wait for every process (the group stays up for the next stage of `train all`)."""
    if dist.world > 1:
        torch.distributed.barrier()


def close_distributed() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


class EpochSampler:
    """Indices of the batch a process trains on at a step: shuffled epochs, a pure function of the step,
    so a resumed run (or another world size with the same global batch) sees the same data order."""

    def __init__(self, size: int, seed: int):
        if size <= 0:
            raise ValueError("no training examples")
        self.size = size
        self.rng = random.Random(seed)
        self.order: list[int] = []

    def batch(self, step: int, batch_size: int, dist: Dist) -> list[int]:
        start = (step * dist.world + dist.rank) * batch_size
        while len(self.order) < start + batch_size:
            epoch = list(range(self.size))
            self.rng.shuffle(epoch)
            self.order += epoch
        return self.order[start:start + batch_size]


@dataclass
class LoopConfig:
    steps: int
    warmup: int
    run_dir: str
    save_every: int = 50
    log_every: int = 10


def lr_scale(step: int, cfg: LoopConfig) -> float:
    return min(1.0, (step + 1) / max(1, cfg.warmup)) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))


def _trainable_state(objective: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in objective.named_parameters() if p.requires_grad}


def train_loop(objective: nn.Module, param_groups: list[dict], next_batch, cfg: LoopConfig, dist: Dist,
               desc: str, resume: bool = True) -> None:
    """Run cfg.steps optimiser steps; next_batch(step) -> the batch this process trains on."""
    params = [p for group in param_groups for p in group["params"]]
    optimizer = torch.optim.AdamW(param_groups, weight_decay=0.0)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    run_dir = Path(cfg.run_dir)
    state_file = run_dir / "state.pt"
    step = 0
    if resume and state_file.exists():
        state = torch.load(state_file, weights_only=False)
        objective.load_state_dict(state["params"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        if dist.main:
            print(f"{desc}: resumed from {state_file} at step {step}")
    module = nn.parallel.DistributedDataParallel(objective, find_unused_parameters=True) \
        if dist.world > 1 else objective
    run_dir.mkdir(parents=True, exist_ok=True)
    log = open(run_dir / "metrics.jsonl", "a") if dist.main else None
    objective.train()
    bar = tqdm(total=cfg.steps, initial=step, desc=desc, unit="step", disable=not dist.main)
    while step < cfg.steps:
        batch = next_batch(step)
        for group, lr in zip(optimizer.param_groups, base_lrs):
            group["lr"] = lr * lr_scale(step, cfg)
        t = time.perf_counter()
        loss, stats = module(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        if not dist.main:
            continue
        stats.update(step=step, loss=loss.item(), step_s=time.perf_counter() - t)
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items() if k in ("loss", "acc", "fn_acc", "arg_acc")})
        if step % cfg.log_every == 0 or step == cfg.steps:
            log.write(json.dumps(stats) + "\n")
            log.flush()
        if step % cfg.save_every == 0 or step == cfg.steps:
            torch.save({"params": _trainable_state(objective), "optimizer": optimizer.state_dict(),
                        "step": step}, state_file)
    bar.close()
    if log:
        log.close()
    objective.eval()
