"""The Octopus model: image tower -> projector -> causal LM whose new vocabulary is the functional tokens.

Layout of the LM input for one command:  <bos> [image x K] command tokens <octo_call>
and the answer the LM writes:            <nexa_i> argument tokens "('red mug')"
The new tokens (<octo_call> and one <nexa_i> per function) get their own embedding rows (`new_embed`)
and, for the functional tokens, their own output rows (`function_head`), so the base vocabulary and its
tied embedding matrix stay frozen and untouched. Argument tokens are scored against a subset of the base
vocabulary only (the decoding candidates), which keeps each step cheap despite a 262k vocabulary.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from .int8 import Int8Embedding
from .lora import add_lora
from .profile import ModelProfile
from .vision import ImageEncoder

CALL_MARKER = "<octo_call>"


class _PassThrough(nn.Module):
    """Stands in for a decoder layer whose output is already known (cached lower-layer states)."""

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states


class OctopusModel(nn.Module):
    def __init__(self, vision: ImageEncoder | None, lm: nn.Module, tokenizer, function_names: list[str],
                 function_descriptions: list[str], profile: ModelProfile):
        super().__init__()
        self.vision = vision
        self.lm = lm
        self.tokenizer = tokenizer
        self.profile = profile
        cfg = lm.config
        self.hidden_size = cfg.hidden_size
        self.base_vocab = lm.get_input_embeddings().num_embeddings
        self.num_functions = len(function_names)
        self.image_tokens = profile.head.image_tokens
        if vision is not None:
            self.projector = nn.Sequential(
                nn.Linear(vision.embed_dim, profile.head.projector_hidden), nn.GELU(),
                nn.Linear(profile.head.projector_hidden, self.image_tokens * self.hidden_size))
        else:
            self.projector = None
        self.image_token_norm = self._mean_embedding_norm() if profile.head.normalize_image_tokens else None
        # new token 0 is the call marker, new token 1 + i is function i's functional token
        self.new_embed = nn.Parameter(torch.zeros(1 + self.num_functions, self.hidden_size))
        self.function_head = nn.Parameter(torch.zeros(self.num_functions, self.hidden_size))
        self._init_new_tokens(function_names, function_descriptions)
        lora = profile.head.lora
        if lora.top_layers > 0:
            add_lora(self.decoder_layers, lora.top_layers, lora.targets, lora.rank, lora.alpha)

    # ---- pieces -------------------------------------------------------------------------------------------
    @property
    def backbone(self) -> nn.Module:
        """The LM without its vocabulary head: returns normalised hidden states."""
        return self.lm.model

    @property
    def decoder_layers(self) -> nn.ModuleList:
        return self.backbone.layers

    @property
    def output_weight(self) -> torch.Tensor:
        return self.lm.get_output_embeddings().weight

    def output_rows(self, ids) -> torch.Tensor:
        """Output-embedding rows of base-vocabulary ids, in the model's dtype (see `embed_ids`)."""
        head = self.lm.get_output_embeddings()
        rows = head.rows(ids) if isinstance(head, Int8Embedding) else self.output_weight[ids]
        return rows.to(self.new_embed.dtype)

    def _text_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    @torch.no_grad()
    def _init_new_tokens(self, names: list[str], descriptions: list[str]) -> None:
        """Functional tokens start at the mean embedding of their function's name and description (as in
        Octopus v2/v3), so the untrained model already leans towards the right function."""
        embed = self.lm.get_input_embeddings()
        texts = ["call"] + [f"{n.replace('_', ' ')}: {d}" for n, d in zip(names, descriptions)]
        for row, text in enumerate(texts):
            ids = torch.tensor(self._text_ids(text) or [self.tokenizer.unk_token_id or 0])
            self.new_embed[row] = embed(ids).mean(0)
            if row > 0:
                self.function_head[row - 1] = self.output_weight[ids].mean(0)

    def call_marker_id(self) -> int:
        return self.base_vocab

    def function_token_id(self, index: int) -> int:
        return self.base_vocab + 1 + index

    def embed_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Embeddings for ids that may include new tokens (id >= base vocabulary)."""
        is_new = ids >= self.base_vocab
        # the embedding matrix may be stored in fp16 or int8 (deployment); compute in the model's dtype
        base = self.lm.get_input_embeddings()(ids.clamp(max=self.base_vocab - 1)).to(self.new_embed.dtype)
        if not bool(is_new.any()):
            return base
        new = self.new_embed[(ids - self.base_vocab).clamp(min=0)]
        return torch.where(is_new.unsqueeze(-1), new, base)

    def image_embeds(self, pixels: torch.Tensor) -> torch.Tensor:
        """[B,3,S,S] -> [B,K,H] LM input vectors."""
        if self.vision is None or self.projector is None:
            raise RuntimeError("this model has no image tower")
        return self.project_features(self.vision(pixels))

    def project_features(self, features: torch.Tensor) -> torch.Tensor:
        """Image-tower features [B,E] -> [B,K,H]; split out so training can cache the frozen tower."""
        tokens = self.projector(features).view(features.shape[0], self.image_tokens, self.hidden_size)
        if self.image_token_norm is None:
            return tokens
        return tokens * (self.image_token_norm / tokens.norm(dim=-1, keepdim=True).clamp(min=1e-6))

    @torch.no_grad()
    def _mean_embedding_norm(self) -> float:
        """Mean norm of the LM's input vectors for base tokens (with the embedding's own scale, e.g. Gemma's
        sqrt(hidden)), over an evenly spaced sample of the vocabulary."""
        ids = torch.linspace(0, self.base_vocab - 1, steps=min(self.base_vocab, 4096)).long()
        return float(self.lm.get_input_embeddings()(ids).float().norm(dim=-1).mean())

    def prompt_ids(self, text: str) -> list[int]:
        bos = self.tokenizer.bos_token_id
        return ([bos] if bos is not None else []) + self._text_ids(text) + [self.call_marker_id()]

    def prompt_embeds(self, prompt_ids: list[int], image: torch.Tensor | None) -> torch.Tensor:
        """[1,T,H]: <bos> [image x K] text <octo_call>. `image` is [1,K,H] or None."""
        ids = torch.tensor([prompt_ids])
        embeds = self.embed_ids(ids)
        if image is None:
            return embeds
        return torch.cat([embeds[:, :1], image.to(embeds.dtype), embeds[:, 1:]], dim=1)

    def hidden(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None,
               past_key_values=None, use_cache: bool = False):
        out = self.backbone(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                            past_key_values=past_key_values, use_cache=use_cache)
        return out.last_hidden_state, out.past_key_values

    @contextmanager
    def layer_window(self, start: int, stop: int | None = None):
        """Inside, `hidden` runs only decoder layers [start, stop). Its input is then the state entering
        layer `start` (the layers below pass it through, so attention masks and rotary positions are the
        full model's), and when stop is below the layer count its output is the raw state leaving layer
        stop - 1 (no final norm). Training uses this to cache what the frozen lower layers compute."""
        backbone = self.backbone
        layers, norm = backbone.layers, backbone.norm
        stop = len(layers) if stop is None else stop
        backbone.layers = nn.ModuleList([_PassThrough() for _ in range(start)] + list(layers[start:stop]))
        if stop < len(layers):
            backbone.norm = nn.Identity()
        try:
            yield
        finally:
            backbone.layers, backbone.norm = layers, norm

    def hidden_of_rows(self, rows: list[torch.Tensor]) -> torch.Tensor:
        """Hidden states [B,T,H] of a batch of input-embedding sequences [T_b,H] of different lengths
        (right-padded with zeros). Training stages build their rows, then call this. The rows run packed
        end to end as one sequence whose positions restart at each row (transformers then masks attention
        to stay within a row), so no padding is computed: a batch of short commands padded to its longest
        ran about twice the tokens."""
        lengths = [r.shape[0] for r in rows]
        positions = torch.cat([torch.arange(n) for n in lengths]).unsqueeze(0)
        packed = self.backbone(inputs_embeds=torch.cat(rows).unsqueeze(0), position_ids=positions,
                               use_cache=False).last_hidden_state[0]
        out = packed.new_zeros(len(rows), max(lengths), self.hidden_size)
        for b, piece in enumerate(packed.split(lengths)):
            out[b, :lengths[b]] = piece
        return out

    def function_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.function_head.t()

    def token_logits(self, hidden: torch.Tensor, candidate_rows: torch.Tensor) -> torch.Tensor:
        """Logits over a candidate subset of the base vocabulary; candidate_rows = output_weight[ids]."""
        return hidden @ candidate_rows.t()

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what octopus_ros trains: projector, image-tower projection, new tokens, LoRA adapters."""
        keep = ("projector.", "new_embed", "function_head", "vision.visual.head.", "lora_")
        return {k: v.detach().contiguous() for k, v in self.state_dict().items()
                if k.startswith(keep) or ".lora_" in k}
