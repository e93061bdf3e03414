"""int8 Linear layers with a scale per output channel for weights and per token for activations.

torch.ao's dynamic quantisation (used up to session 6) takes one activation scale per call, so one token
with a large residual state coarsens every other token of the batch: a prompt's tokens, or the beams of
a decoding step. Gemma has such tokens. Here every row gets its own scale, and the int8 x int8 product
accumulates in int32 (`torch._int_mm`, oneDNN on CPU). Measured on 200 test prompts, the function
distribution's KL to fp32 is 0.009 against 0.21 for torch.ao (docs/model/evaluation.md, Session 7).

The tied token-embedding matrix (262k x 640 for Gemma, most of the LM's bytes) is only ever read by rows:
prompt tokens in, decoding candidates out. `Int8Embedding` keeps it as int8 with one scale per group of 32 columns.
"""
from __future__ import annotations

import functools
import logging

import torch
from torch import nn

_QMAX = 127
log = logging.getLogger(__name__)


@functools.cache
def int_mm_is_exact() -> bool:
    """Whether torch._int_mm gives exact int32 sums on this CPU. Without VNNI, x86 int8 kernels can saturate
    int16 intermediates (reported for torch._int_mm on some AMD EPYC parts), and other CPUs may lack the op;
    then Int8Linear multiplies the same int8 values in fp32 instead: slower, never wrong."""
    a = torch.full((17, 64), _QMAX, dtype=torch.int8)
    a[8:] = -_QMAX
    b = torch.full((64, 16), _QMAX, dtype=torch.int8)   # same-sign neighbours: the sums that saturate int16
    b[:, 1::2] = -_QMAX
    try:
        got = torch._int_mm(a, b)
    except RuntimeError as exc:
        log.warning("torch._int_mm is not available here (%s): int8 layers multiply in fp32", exc)
        return False
    exact = torch.equal(got.long(), a.long() @ b.long())
    if not exact:
        log.warning("torch._int_mm saturates on this CPU: int8 layers multiply in fp32")
    return exact


def _symmetric_int8(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x -> (int8 values, fp32 scales along `dim`) with x ~= values * scales."""
    scale = x.abs().amax(dim, keepdim=True).clamp(min=1e-8) / _QMAX
    return torch.round(x / scale).to(torch.int8), scale


class Int8Linear(nn.Module):
    """Inference-only replacement for an nn.Linear: int8 weights, int8 activations, int32 accumulation."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight, scale = _symmetric_int8(linear.weight.detach().float(), dim=1)
        self.register_buffer("weight_t", weight.t().contiguous())   # [in, out], the layout _int_mm takes
        self.register_buffer("weight_scale", scale.t().contiguous())  # [1, out]
        bias = linear.bias
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()
        values, scale = _symmetric_int8(rows, dim=1)
        if int_mm_is_exact():
            products = torch._int_mm(values, self.weight_t).float()
        else:
            products = values.float() @ self.weight_t.float()
        out = products * (scale * self.weight_scale)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-channel x per-token"


class Int8Embedding(nn.Module):
    """Inference-only replacement for a (tied) token-embedding matrix: int8 values with one fp32 scale per
    group of GROUP consecutive columns of a row. `forward(ids)` is the input embedding (with the LM's own
    `embed_scale`, e.g. Gemma's sqrt(hidden)); `rows(ids)` are the unscaled rows, the tied output embedding's.
    Groups keep one large element from coarsening its whole row; on the test split, per-row and per-32 scales
    changed about as many calls (51 vs 47 of 1,000, nearly all through the prompt's embeddings: Session 11 in
    docs/model/evaluation.md)."""

    GROUP = 32
    CHUNK = 16384   # rows quantised at a time: no fp32 copy of the whole matrix at load

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        weight = embedding.weight.detach()
        self.num_embeddings, self.embedding_dim = weight.shape
        group = self.GROUP if self.embedding_dim % self.GROUP == 0 else self.embedding_dim
        self.register_buffer("weight_int8", torch.empty(weight.shape, dtype=torch.int8))
        self.register_buffer("group_scale", torch.empty(self.num_embeddings, self.embedding_dim // group, 1))
        for start in range(0, self.num_embeddings, self.CHUNK):
            block = weight[start:start + self.CHUNK].float()
            values, scale = _symmetric_int8(block.reshape(len(block), -1, group), dim=2)
            self.weight_int8[start:start + self.CHUNK] = values.reshape(block.shape)
            self.group_scale[start:start + self.CHUNK] = scale
        embed_scale = getattr(embedding, "embed_scale", None)   # Gemma3TextScaledWordEmbedding has one
        self.register_buffer("embed_scale", None if embed_scale is None else torch.as_tensor(embed_scale).float())

    def rows(self, ids) -> torch.Tensor:
        ids = torch.as_tensor(ids)
        scale = self.group_scale[ids]
        values = self.weight_int8[ids].reshape(*scale.shape[:-1], -1).float()
        return (values * scale).reshape(*ids.shape, self.embedding_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.rows(ids)
        return out if self.embed_scale is None else out * self.embed_scale

    def extra_repr(self) -> str:
        group = self.embedding_dim // self.group_scale.shape[1]   # the whole row when GROUP does not divide it
        return f"{self.num_embeddings}, {self.embedding_dim}, int8 in groups of {group}"


def quantize_linears(module: nn.Module) -> int:
    """Replace every nn.Linear under `module` by an Int8Linear, in place; returns how many."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear(child))
            count += 1
        else:
            count += quantize_linears(child)
    return count
