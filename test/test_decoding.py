"""Model and decoding details that the fuzz test does not look at: the form of quoted values, the int8
deployment (fp16 embedding matrix), and image tokens at a word's norm. Tiny random model of the real
architecture, in-process."""
from __future__ import annotations

import random

import numpy as np
import pytest

from test_model_fuzz import random_command

torch = pytest.importorskip("torch")
model_module = pytest.importorskip("octopus_ros.model")


@pytest.fixture(scope="module")
def int8_agent():
    return model_module.OctopusAgent.load("tiny-random", threads=2, quantize="int8")


def test_quoted_values_never_start_with_whitespace(int8_agent):
    rng = random.Random(3)
    values = []
    for i in range(300):
        result = int8_agent.infer(random_command(rng, i))
        if result.outcome == "call":
            values += [v for v in result.arguments.values() if isinstance(v, str) and v]
    assert len(values) > 20, "too few string values to check"
    assert [v for v in values if v[0].isspace()] == []


def test_int8_stores_the_embedding_matrix_in_fp16_and_still_decodes(int8_agent):
    embedding = int8_agent.model.lm.get_input_embeddings().weight
    assert embedding.dtype == torch.float16
    assert int8_agent.model.lm.get_output_embeddings().weight is embedding    # still tied: one copy
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    for text, image in (("turn on the kitchen light", None), ("pick that up", frame), ("打开客厅的台灯", None)):
        result = int8_agent.infer(text, image)
        assert result.outcome in ("call", "no_action"), result.reason
        assert 0.0 <= result.confidence <= 1.0


def test_image_tokens_have_the_mean_norm_of_a_word_embedding(int8_agent):
    model = int8_agent.model
    assert model.profile.head.normalize_image_tokens and model.image_token_norm > 0
    frames = np.random.default_rng(1).integers(0, 255, (3, 96, 128, 3), dtype=np.uint8)
    with torch.no_grad():
        tokens = model.image_embeds(model.vision.preprocess(list(frames)))
    assert tokens.shape == (3, model.image_tokens, model.hidden_size)
    assert torch.allclose(tokens.norm(dim=-1), torch.full((3, model.image_tokens), model.image_token_norm), rtol=1e-4)
