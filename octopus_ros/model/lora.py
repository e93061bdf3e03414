"""Low-rank adapters (LoRA) for nn.Linear, small enough to read in one sitting."""
from __future__ import annotations

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    """y = base(x) + scale * B(A(x)); base frozen, B starts at zero so training starts from the base model."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged(self) -> nn.Linear:
        """A plain Linear with the adapter folded in (for fast inference and int8 quantisation)."""
        with torch.no_grad():
            self.base.weight += (self.lora_b @ self.lora_a) * self.scale
        return self.base


def add_lora(layers: nn.ModuleList, top_layers: int, targets: list[str], rank: int, alpha: float) -> int:
    """Wrap the target Linear modules of the top `top_layers` layers; returns how many were wrapped."""
    count = 0
    for layer in list(layers)[len(layers) - top_layers:]:
        for parent in layer.modules():
            for name, child in list(parent.named_children()):
                if name in targets and isinstance(child, nn.Linear):
                    setattr(parent, name, LoRALinear(child, rank, alpha))
                    count += 1
    return count


def merge_lora(module: nn.Module) -> None:
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear):
                setattr(parent, name, child.merged())
