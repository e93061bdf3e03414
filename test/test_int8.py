"""octopus_ros.model.int8: int8 Linear layers with per-channel weight and per-token activation scales."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from octopus_ros.model import int8  # noqa: E402
from octopus_ros.model.int8 import Int8Linear, quantize_linears  # noqa: E402


@pytest.fixture(scope="module")
def int8_agent():
    model_module = pytest.importorskip("octopus_ros.model")
    return model_module.OctopusAgent.load("tiny-random", threads=2, quantize="int8")


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("rows", [1, 5, 33])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_the_fp32_linear_within_int8_rounding(rows, bias):
    torch.manual_seed(rows)
    linear = nn.Linear(640, 256, bias=bias)
    x = torch.randn(2, rows, 640)
    out = Int8Linear(linear)(x)
    assert out.shape == (2, rows, 256) and out.dtype == torch.float32
    assert relative_error(out, linear(x)) < 0.02


def test_a_token_with_a_huge_state_does_not_coarsen_the_others():
    """The reason for per-token scales: Gemma's <bos> is 17-50x larger than other tokens. With one scale
    per call (torch.ao dynamic quantisation) the small rows would lose most of their precision."""
    torch.manual_seed(0)
    linear = nn.Linear(128, 64)
    small = torch.randn(4, 128)
    batch = torch.cat([small, 3000 * torch.randn(1, 128)])
    q = Int8Linear(linear)
    assert torch.equal(q(batch)[:4], q(small))            # each row is quantised on its own
    assert relative_error(q(batch)[:4], linear(small)) < 0.02
    # one scale for the whole batch (what per-tensor activation quantisation does) is far worse
    scale = batch.abs().max() / 127
    per_tensor = linear(torch.round(small / scale) * scale)
    assert relative_error(per_tensor, linear(small)) > 5 * relative_error(q(small), linear(small))


def test_the_fp32_fallback_gives_the_same_products(monkeypatch):
    """CPUs where torch._int_mm saturates or is missing multiply the same int8 values in fp32."""
    if not int8.int_mm_is_exact():
        pytest.skip("torch._int_mm is inexact or missing here: every Int8Linear already uses the fallback")
    torch.manual_seed(1)
    q = Int8Linear(nn.Linear(256, 64))
    x = torch.randn(7, 256)
    fast = q(x)
    monkeypatch.setattr(int8, "int_mm_is_exact", lambda: False)
    assert torch.allclose(q(x), fast, rtol=1e-5, atol=1e-5)


def test_quantize_linears_replaces_every_linear_and_keeps_other_modules():
    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Sequential(nn.Linear(32, 8), nn.LayerNorm(8)))
    x = torch.randn(3, 16)
    expected = model(x)
    assert quantize_linears(model) == 2
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    assert isinstance(model[1], nn.GELU) and isinstance(model[2][1], nn.LayerNorm)
    assert relative_error(model(x), expected) < 0.05
    assert model[0].weight_t.dtype == torch.int8      # 1 byte per weight


def test_int8_agent_has_no_fp32_linear_in_its_decoder(int8_agent):
    layers = int8_agent.model.decoder_layers
    assert not any(isinstance(m, nn.Linear) for m in layers.modules())
    assert any(isinstance(m, Int8Linear) for m in layers.modules())
    result = int8_agent.infer("turn on the kitchen light")
    assert result.outcome in ("call", "no_action"), result.reason


def test_int8_prompt_states_do_not_depend_on_what_else_is_in_the_batch(int8_agent):
    """Up to session 6 <bos> was prefilled on its own so that its huge state did not set the activation
    scale of the whole prompt. Per-token scales make that unnecessary: splitting the prompt changes nothing."""
    model = int8_agent.model
    prompt = model.prompt_embeds(model.prompt_ids("turn on the kitchen light"), None)
    prompt[:, 0] *= 40                                   # a <bos>-like outlier row
    with torch.no_grad():
        whole, _ = model.hidden(prompt)
        _, past = model.hidden(prompt[:, :1], use_cache=True)
        split, _ = model.hidden(prompt[:, 1:], past_key_values=past, use_cache=True)
    assert torch.allclose(split[0, -1], whole[0, -1], atol=1e-4)


def test_int8_embedding_groups_and_gemma_scale():
    """The tied embedding is stored as int8 with a scale per group of columns: lookups stay within int8
    rounding of the fp32 rows, one huge row or one huge element coarsens only its own group, and Gemma's
    embed_scale is kept."""
    from transformers.models.gemma3.modeling_gemma3 import Gemma3TextScaledWordEmbedding
    torch.manual_seed(2)
    embedding = Gemma3TextScaledWordEmbedding(1000, 64, padding_idx=0, embed_scale=8.0)
    with torch.no_grad():
        embedding.weight[7] *= 500
        embedding.weight[3, 0] *= 500
    q = int8.Int8Embedding(embedding)
    ids = torch.tensor([[1, 5, 999], [3, 7, 2]])
    assert q.weight_int8.dtype == torch.int8
    assert relative_error(q(ids), embedding(ids)) < 0.01
    others = torch.tensor([i for i in range(1000) if i not in (3, 7)])
    assert relative_error(q.rows(others), embedding.weight[others]) < 0.01
    group = int8.Int8Embedding.GROUP   # row 3's other group is untouched by its outlier
    assert relative_error(q.rows(torch.tensor([3]))[:, group:], embedding.weight[3:4, group:]) < 0.01
