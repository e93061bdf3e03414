"""Stage 3 of the Octopus recipe: learn the functional tokens on (image, command) -> call examples.

Trains only: the projector (image -> LM inputs), the new token rows (input embeddings of <octo_call> and
the functional tokens, output rows of the functional tokens) and LoRA adapters on the top decoder layers.
The image trunk and head are frozen here, so trunk features are computed once per image and cached on disk.
With `cache_lower_layers: N` the projector and new input rows are frozen too (stage 2 trained the
projector), so nothing below decoder layer N changes during the stage: each example's state entering layer
N is computed once, on its first use, and every later step runs only the top layers (where LoRA sits).
Loss: cross-entropy of the functional token over the functions (what decoding step 1 scores), plus
cross-entropy of each argument token over the candidate vocabulary (what constrained decoding scores).
Runs on one CPU process or many under torchrun (DistributedDataParallel, gloo or nccl).
With `seed: [0, 1]` the stage trains once per seed from the same start and writes the uniform average of the
runs (a "soup", soup.py); the seeds share the lower-layer cache, since nothing below it depends on the seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..actions import ActionRegistry
from ..model.checkpoint import load_trained_weights, save_checkpoint
from ..model.factory import build_model
from ..model.profile import load_profile
from .cases import Case, read_cases
from .features import cache_file, image_inputs, trunk_features
from .loop import EpochSampler, LoopConfig, finish_distributed, init_distributed, train_loop
from .span_rules import train_span_rules, train_wording


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
    cache_lower_layers: int = 0        # 0: train the projector and new input rows, no state cache
    save_every: int = 50
    log_every: int = 10
    seed: int | list[int] = 0          # a list: one run per seed, averaged into `out` (each in run_dir/seed<N>)
    threads: int = 2
    extra: dict = field(default_factory=dict)


@dataclass
class Example:
    prompt_ids: list[int]       # <bos> text <octo_call>
    function_index: int
    arg_ids: list[int]          # tokens of "('red mug')"
    image_key: str | None
    lower_states: torch.Tensor | None = None   # [T,H] entering the first uncached layer, filled on first use


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


class FunctionalLoss(nn.Module):
    """Cross-entropy of the functional token over the functions, plus of each argument token over the
    candidate vocabulary, for a batch of Examples (one forward, so DDP sees one graph per step)."""

    def __init__(self, model, candidate_ids: list[int], features: dict[str, torch.Tensor],
                 cache_lower_layers: int = 0):
        super().__init__()
        self.model = model
        self.features = features
        self.cache_lower_layers = cache_lower_layers
        self.register_buffer("candidate_ids", torch.tensor(candidate_ids), persistent=False)
        self.index_of = {t: j for j, t in enumerate(candidate_ids)}

    def input_row(self, ex: Example) -> torch.Tensor:
        """Input embeddings [T,H] of <bos> [image] text <octo_call> <nexa_i> args[:-1]."""
        m = self.model
        ids = torch.tensor(ex.prompt_ids + [m.function_token_id(ex.function_index)] + ex.arg_ids[:-1])
        emb = m.embed_ids(ids)
        if ex.image_key is None:
            return emb
        img = image_inputs(m, self.features[ex.image_key].unsqueeze(0))[0]
        return torch.cat([emb[:1], img, emb[1:]])

    @torch.no_grad()
    def _fill_lower_states(self, batch: list[Example]) -> None:
        todo = [ex for ex in batch if ex.lower_states is None]
        if not todo:
            return
        rows = [self.input_row(ex) for ex in todo]
        with self.model.layer_window(0, self.cache_lower_layers):
            hidden = self.model.hidden_of_rows(rows)
        for b, (ex, row) in enumerate(zip(todo, rows)):
            ex.lower_states = hidden[b, :row.shape[0]].clone()

    def sequence_hidden(self, batch: list[Example]):
        """Hidden states of each example's input row, and the positions that predict the functional token
        and each argument token."""
        m = self.model
        fn_pos, arg_pos = [], []
        for b, ex in enumerate(batch):
            offset = m.image_tokens if ex.image_key is not None else 0
            call_pos = offset + len(ex.prompt_ids) - 1
            fn_pos.append((b, call_pos))
            arg_pos.append([(b, call_pos + 1 + k) for k in range(len(ex.arg_ids))])
        if not self.cache_lower_layers:
            return m.hidden_of_rows([self.input_row(ex) for ex in batch]), fn_pos, arg_pos
        self._fill_lower_states(batch)
        with m.layer_window(self.cache_lower_layers):
            hidden = m.hidden_of_rows([ex.lower_states for ex in batch])
        return hidden, fn_pos, arg_pos

    def argument_logits(self, hidden: torch.Tensor, positions: list[tuple[int, int]]) -> torch.Tensor:
        b, p = zip(*positions)
        return self.model.token_logits(hidden[list(b), list(p)], self.model.output_rows(self.candidate_ids))

    def forward(self, batch: list[Example]):
        m = self.model
        hidden, fn_pos, arg_pos = self.sequence_hidden(batch)
        fb, fp = zip(*fn_pos)
        fn_logits = m.function_logits(hidden[list(fb), list(fp)])
        fn_target = torch.tensor([ex.function_index for ex in batch])
        loss_fn = F.cross_entropy(fn_logits, fn_target)
        stats = {"fn_loss": loss_fn.item(), "fn_acc": (fn_logits.argmax(-1) == fn_target).float().mean().item()}
        loss = loss_fn
        flat = [p for positions in arg_pos for p in positions]
        if flat:
            arg_logits = self.argument_logits(hidden, flat)
            target = torch.tensor([self.index_of[t] for ex in batch for t in ex.arg_ids])
            loss_arg = F.cross_entropy(arg_logits, target)
            loss = loss + loss_arg
            stats["arg_loss"] = loss_arg.item()
            stats["arg_acc"] = (arg_logits.argmax(-1) == target).float().mean().item()
        return loss, stats


def candidate_vocab(tokenizer, examples: list[Example]) -> list[int]:
    ids = {t for ex in examples for t in ex.arg_ids}
    for code in range(32, 127):
        ids.update(tokenizer(chr(code), add_special_tokens=False).input_ids)
    return sorted(ids)


def trainable_parameters(model, cache_lower_layers: int = 0) -> tuple[list, list]:
    """(projector + new token rows, LoRA adapters); everything else stays frozen. With a lower-layer cache
    only the functional tokens' output rows and the LoRA adapters (which must sit above the cache) learn."""
    new_names = ("function_head",) if cache_lower_layers else ("projector.", "new_embed", "function_head")
    lora_layers = model.profile.head.lora.top_layers
    if cache_lower_layers > len(model.decoder_layers) - lora_layers:
        raise ValueError(f"cache_lower_layers={cache_lower_layers} would freeze LoRA adapters: they sit on the top "
                         f"{lora_layers} of {len(model.decoder_layers)} layers")
    new, lora = [], []
    for name, p in model.named_parameters():
        if name.startswith(new_names):
            new.append(p)
        elif ".lora_" in name:
            lora.append(p)
        else:
            p.requires_grad_(False)
            continue
        p.requires_grad_(True)
    return new, lora


def setup_stage(cfg, dist):
    """Registry, profile and model of a stage, starting from cfg.init_from when given."""
    torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    registry = ActionRegistry.from_yaml(cfg.functions)
    profile = load_profile(cfg.profile)
    model = build_model(profile, [f.name for f in registry.functions], [f.description for f in registry.functions])
    if getattr(cfg, "init_from", None):   # the lexicon stage has none: it needs only the base weights
        load_trained_weights(model, Path(cfg.init_from))
    return registry, profile, model


def encoded_split(cfg, model, registry, split: str = "train") -> list[Example]:
    """A split's cases encoded for the model, in file order."""
    return encode_cases(model, registry, read_cases(Path(cfg.data) / f"{split}.jsonl"))


def load_examples(cfg, model, registry, split: str = "train") -> list[Example]:
    return seeded_order(encoded_split(cfg, model, registry, split), cfg)


def seeded_order(examples: list[Example], cfg) -> list[Example]:
    """The examples in the order cfg.seed shuffles them, cut to cfg.max_train_examples."""
    examples = list(examples)
    random.Random(cfg.seed).shuffle(examples)
    return examples[:cfg.max_train_examples] if cfg.max_train_examples else examples


def frozen_below_cache(model) -> dict[str, torch.Tensor]:
    """The trained tensors that stage 3 keeps frozen when it caches lower-layer states (the projector, the
    image head, the new input rows): equal across seeds, the cached states are too."""
    return {k: v for k, v in model.trained_state_dict().items()
            if ".lora_" not in k and not k.startswith("function_head")}


def train_functional(cfg: FunctionalConfig, resume: bool = True) -> Path:
    seeds = [cfg.seed] if isinstance(cfg.seed, int) else list(cfg.seed)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"functional: `seed` must be one seed or a list of different seeds, not {cfg.seed}")
    if len(seeds) == 1:
        return train_one_seed(replace(cfg, seed=seeds[0]), resume)
    dist = init_distributed()
    shared: dict = {}
    runs = [train_one_seed(replace(cfg, seed=seed, run_dir=f"{cfg.run_dir}/seed{seed}",
                                   out=f"{cfg.run_dir}/seed{seed}/checkpoint"), resume, shared)
            for seed in seeds]
    out = Path(cfg.out)
    if dist.main:
        from .soup import average_checkpoints
        average_checkpoints(runs, out)
        print(f"average of {len(runs)} seeds {seeds} written to {out}")
    finish_distributed(dist)
    return out


def train_one_seed(cfg: FunctionalConfig, resume: bool = True, shared: dict | None = None) -> Path:
    """One stage-3 run. `shared` carries the encoded examples (and the lower-layer states they cache) from one
    seed's run to the next; they are reused only when the frozen tensors below the cache are equal."""
    dist = init_distributed()
    registry, profile, model = setup_stage(cfg, dist)
    frozen = frozen_below_cache(model)
    reuse = bool(shared) and all(torch.equal(frozen[k], v) for k, v in shared["frozen"].items())
    encoded = shared["encoded"] if reuse else encoded_split(cfg, model, registry)
    if shared is not None:
        shared.update(frozen=frozen, encoded=encoded)
    examples = seeded_order(encoded, cfg)
    features = trunk_features(model, [e.image_key for e in examples if e.image_key],
                              cache_file(Path(cfg.data), profile.name))
    vocab = candidate_vocab(model.tokenizer, examples)
    new_params, lora_params = trainable_parameters(model, cfg.cache_lower_layers)
    objective = FunctionalLoss(model, vocab, features, cfg.cache_lower_layers)
    sampler = EpochSampler(len(examples), cfg.seed)
    train_loop(objective, [{"params": new_params, "lr": cfg.lr}, {"params": lora_params, "lr": cfg.lora_lr}],
               lambda step: [examples[i] for i in sampler.batch(step, cfg.batch_size, dist)],
               LoopConfig(cfg.steps, cfg.warmup, cfg.run_dir, cfg.save_every, cfg.log_every), dist,
               desc="functional tokens" if shared is None else f"functional tokens, seed {cfg.seed}",
               resume=resume)
    out = Path(cfg.out)
    if dist.main:
        save_checkpoint(out, model, profile.raw, Path(cfg.functions), registry.fingerprint(), vocab,
                        span_args=train_span_rules(cfg.data, registry),
                        wording=train_wording(cfg.data, registry),
                        info={"stage": "functional", "steps": cfg.steps, "train_examples": len(examples),
                              "batch_size": cfg.batch_size, "world_size": dist.world,
                              "cache_lower_layers": cfg.cache_lower_layers,
                              "init_from": cfg.init_from, "seed": cfg.seed})
        print(f"checkpoint written to {out}")
    finish_distributed(dist)
    return out
