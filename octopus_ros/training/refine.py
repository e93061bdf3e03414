"""Stage 4 of the Octopus recipe: refinement with a verifiable reward, from the model's own mistakes.

1. Mine: run the stage-3 model over training examples it has not been optimised on much (a fresh sample)
   and find where its own choice fails the verifier (the call's exact match against the expected call):
   the functional token it would pick, or the first argument token it would pick under the expected prefix.
2. Pair: each mistake gives a preference pair at that decision point, chosen = the expected token (reward
   1), rejected = the model's token (reward 0); the frozen stage-3 log-probabilities are the reference.
3. Optimise a DPO loss on the pairs, plus the cross-entropy of the chosen token at each pair's decision
   point as an anchor (DPO alone can lower both tokens' probabilities while widening their margin).
"""
from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..model.checkpoint import META_FILE, WEIGHTS_FILE, read_meta, save_checkpoint
from ..model.lexicon import LEXICON_FILE
from .features import cache_file, trunk_features
from .functional import (Example, FunctionalLoss, candidate_vocab, load_examples, setup_stage,
                         trainable_parameters)
from .loop import EpochSampler, LoopConfig, finish_distributed, init_distributed, train_loop
from .span_rules import train_span_rules, train_wording


@dataclass
class RefineConfig:
    data: str = "data/default"
    functions: str = "config/functions.yaml"
    profile: str = "default"
    out: str = "models/default"
    run_dir: str = "runs/refine"
    init_from: str | None = "runs/functional/checkpoint"
    mine_examples: int = 1500       # training examples scanned for mistakes
    mine_batch: int = 32
    steps: int = 40
    batch_size: int = 16
    beta: float = 0.5               # DPO temperature
    anchor: float = 1.0             # weight of the cross-entropy anchor
    lr: float = 2e-4
    lora_lr: float = 1e-4
    warmup: int = 5
    max_train_examples: int | None = None
    save_every: int = 20
    log_every: int = 5
    seed: int = 1                   # a different sample than stage 3's first epoch
    threads: int = 2
    select_cases: int = 400         # validation cases on which stage 4 must beat stage 3 to be kept (0: always keep)


@dataclass
class Pair:
    example: Example
    kind: str          # "function" or "argument"
    position: int      # argument token index (kind "argument")
    chosen: int        # index among functions / candidate tokens
    rejected: int
    ref_margin: float  # reference log p(chosen) - log p(rejected)


@torch.no_grad()
def mine_pairs(loss: FunctionalLoss, examples: list[Example], batch: int) -> list[Pair]:
    m = loss.model
    pairs = []
    for i in tqdm(range(0, len(examples), batch), desc="stage 4 mining", unit="batch"):
        chunk = examples[i:i + batch]
        hidden, fn_pos, arg_pos = loss.sequence_hidden(chunk)
        fb, fp = zip(*fn_pos)
        fn_logp = F.log_softmax(m.function_logits(hidden[list(fb), list(fp)]), -1)
        for b, ex in enumerate(chunk):
            guess = int(fn_logp[b].argmax())
            if guess != ex.function_index:
                pairs.append(Pair(ex, "function", -1, ex.function_index, guess,
                                  float(fn_logp[b, ex.function_index] - fn_logp[b, guess])))
                continue
            if not arg_pos[b]:
                continue
            arg_logp = F.log_softmax(loss.argument_logits(hidden, arg_pos[b]), -1)
            for k, token in enumerate(ex.arg_ids):
                target, guess = loss.index_of[token], int(arg_logp[k].argmax())
                if guess != target:
                    pairs.append(Pair(ex, "argument", k, target, guess,
                                      float(arg_logp[k, target] - arg_logp[k, guess])))
                    break
    return pairs


class PreferenceLoss(nn.Module):
    def __init__(self, functional: FunctionalLoss, beta: float, anchor: float):
        super().__init__()
        self.functional = functional
        self.beta = beta
        self.anchor = anchor

    def forward(self, batch: list[Pair]):
        f = self.functional
        m = f.model
        examples = [p.example for p in batch]
        hidden, fn_pos, arg_pos = f.sequence_hidden(examples)
        margins, anchor_terms = [], []
        for b, pair in enumerate(batch):
            if pair.kind == "function":
                logp = F.log_softmax(m.function_logits(hidden[fn_pos[b][0], fn_pos[b][1]]), -1)
            else:
                logp = F.log_softmax(f.argument_logits(hidden, [arg_pos[b][pair.position]]), -1)[0]
            margins.append(logp[pair.chosen] - logp[pair.rejected] - pair.ref_margin)
            anchor_terms.append(-logp[pair.chosen])
        margin = torch.stack(margins)
        dpo = -F.logsigmoid(self.beta * margin).mean()
        loss = dpo + self.anchor * torch.stack(anchor_terms).mean()
        return loss, {"dpo": dpo.item(), "acc": (margin + torch.tensor([p.ref_margin for p in batch]) > 0)
                      .float().mean().item()}


def train_refine(cfg: RefineConfig, resume: bool = True) -> Path:
    dist = init_distributed()
    if cfg.steps == 0:
        return pass_through(cfg, dist)
    registry, profile, model = setup_stage(cfg, dist)
    examples = load_examples(cfg, model, registry)
    random.Random(cfg.seed).shuffle(examples)
    pool = examples[:cfg.mine_examples]
    features = trunk_features(model, [e.image_key for e in pool if e.image_key], cache_file(Path(cfg.data),
                                                                                             profile.name))
    # decode over the vocabulary the stage-3 checkpoint was trained with, so mined tokens are the ones it uses
    vocab = read_meta(Path(cfg.init_from))["arg_vocab"] if cfg.init_from else candidate_vocab(model.tokenizer, pool)
    vocab = sorted(set(vocab) | set(candidate_vocab(model.tokenizer, pool)))
    functional = FunctionalLoss(model, vocab, features)
    model.eval()
    pairs = mine_pairs(functional, pool, cfg.mine_batch)
    if dist.main:
        kinds = {k: sum(p.kind == k for p in pairs) for k in ("function", "argument")}
        print(f"stage 4: {len(pairs)} mistakes in {len(pool)} examples ({kinds})")
    new_params, lora_params = trainable_parameters(model)
    if pairs:
        sampler = EpochSampler(len(pairs), cfg.seed)
        train_loop(PreferenceLoss(functional, cfg.beta, cfg.anchor),
                   [{"params": new_params, "lr": cfg.lr}, {"params": lora_params, "lr": cfg.lora_lr}],
                   lambda step: [pairs[i] for i in sampler.batch(step, cfg.batch_size, dist)],
                   LoopConfig(cfg.steps, cfg.warmup, cfg.run_dir, cfg.save_every, cfg.log_every), dist,
                   desc="stage 4 refine", resume=resume)
    out = Path(cfg.out)
    if dist.main:
        save_checkpoint(out, model, profile.raw, Path(cfg.functions), registry.fingerprint(), vocab,
                        span_args=train_span_rules(cfg.data, registry),
                        wording=train_wording(cfg.data, registry),
                        info={"stage": "refine", "steps": cfg.steps if pairs else 0, "mined": len(pairs),
                              "mine_examples": len(pool), "init_from": cfg.init_from})
        print(f"checkpoint written to {out}")
        if cfg.select_cases and cfg.init_from:
            keep_better(Path(cfg.init_from), out, Path(cfg.data) / "val.jsonl", cfg.select_cases)
    finish_distributed(dist)
    return out


def pass_through(cfg: RefineConfig, dist) -> Path:
    """Stage 4 switched off (`steps: 0`): stage 3's checkpoint goes to `out` as it is."""
    out = Path(cfg.out)
    if dist.main:
        if not cfg.init_from:
            raise ValueError("refine: steps 0 copies init_from to out, but init_from is not set")
        out.mkdir(parents=True, exist_ok=True)
        for item in Path(cfg.init_from).iterdir():
            if item.is_file():
                shutil.copyfile(item, out / item.name)
        meta = read_meta(out)
        meta.setdefault("info", {})["refine"] = "off (steps: 0)"
        (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1))
        print(f"stage 4 is off (steps: 0): {cfg.init_from} copied to {out}")
    finish_distributed(dist)
    return out


def keep_better(stage3: Path, stage4: Path, val_cases: Path, limit: int) -> dict:
    """Model selection on held-out validation cases, as deployed (the profile's quantisation): stage 4's
    preference pairs are local (one token each) and can cost whole-call exact match elsewhere, so its output
    is kept only if it is at least as good as stage 3's; otherwise stage 3's checkpoint is written to
    `stage4`'s folder. The verdict is recorded in that checkpoint's meta (info.selection).

    Both are judged with the same object lexicon: the one `stage4`'s folder holds (in `train all`, the
    previous model's, which stage 5 refits afterwards), or none. The lexicon is fitted on the base weights
    alone, so either candidate can use it; judged with it on one side only, the image cases decided the
    verdict (session 29)."""
    from ..model import OctopusAgent
    from .cases import read_cases
    from .evaluate import run_eval

    cases = read_cases(val_cases)
    cases = random.Random(0).sample(cases, min(limit, len(cases)))
    scores = {}
    shared_lexicon = (stage4 / LEXICON_FILE).exists()
    with tempfile.TemporaryDirectory(prefix="stage3-judged-") as tmp:
        judged3 = Path(tmp) / "stage3"
        shutil.copytree(stage3, judged3)
        (judged3 / LEXICON_FILE).unlink(missing_ok=True)
        if shared_lexicon:
            shutil.copyfile(stage4 / LEXICON_FILE, judged3 / LEXICON_FILE)
        for name, path in (("stage3", judged3), ("stage4", stage4)):
            groups = run_eval(OctopusAgent.load(str(path)), cases, progress=False)["groups"]["all"]
            scores[name] = {"exact_match": round(groups["exact_match"], 4),
                            "function_accuracy": round(groups["function_accuracy"], 4)}
    ranked = {name: (s["exact_match"], s["function_accuracy"]) for name, s in scores.items()}
    kept = "stage4" if ranked["stage4"] >= ranked["stage3"] else "stage3"
    if kept == "stage3":
        for name in (WEIGHTS_FILE, META_FILE):
            shutil.copyfile(stage3 / name, stage4 / name)
    meta = read_meta(stage4)
    meta["info"]["selection"] = {"val_cases": len(cases), "scores": scores, "kept": kept,
                                 "lexicon": shared_lexicon}
    (stage4 / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    print(f"stage 4 selection on {len(cases)} validation cases: {scores}; kept {kept}")
    return meta["info"]["selection"]
