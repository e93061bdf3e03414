"""One loading function for every profile: base LM + tokenizer, image tower, Octopus head, checkpoint."""
from __future__ import annotations

import ctypes
import gc

import torch

from .base_weights import prepare_lm
from .errors import ModelLoadError
from .int8 import Int8Embedding, quantize_linears
from .octopus import OctopusModel
from .profile import ModelProfile, load_profile
from .vision import build_vision


def load_tokenizer_and_lm(profile: ModelProfile, *, load_weights: bool = True):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    spec = profile.lm
    if spec.get("kind") == "random":  # tiny random LM of a real architecture, real tokenizer (plumbing tests)
        tokenizer_source = prepare_lm(load_profile(spec["tokenizer_profile"]).lm)
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_source))
        config = AutoConfig.for_model(**spec["config"])
        torch.manual_seed(profile.seed)
        return tokenizer, AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    source = prepare_lm(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        if not load_weights:
            config = AutoConfig.from_pretrained(str(source))
            return tokenizer, AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        lm = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
    except OSError as exc:
        raise ModelLoadError(f"cannot load the base LM from {source}: {exc}") from exc
    return tokenizer, lm


def build_model(profile: ModelProfile, function_names: list[str], function_descriptions: list[str],
                *, load_base_weights: bool = True) -> OctopusModel:
    """The untrained Octopus model for a profile (base weights loaded, new parts initialised)."""
    tokenizer, lm = load_tokenizer_and_lm(profile, load_weights=load_base_weights)
    for p in lm.parameters():
        p.requires_grad_(False)
    vision = _build_vision(profile.vision, load_base_weights) if profile.vision else None
    if vision is not None:
        for p in vision.parameters():
            p.requires_grad_(False)
    torch.manual_seed(profile.seed)
    return OctopusModel(vision, lm, tokenizer, function_names, function_descriptions, profile)


def _build_vision(spec: dict, load_weights: bool):
    """build_vision, with a hub profile's download/lookup failure reported as a ModelLoadError."""
    try:
        return build_vision(spec, load_weights=load_weights)
    except ModelLoadError:
        raise
    except Exception as exc:  # open_clip raises RuntimeError/OSError/hub errors when it cannot get weights
        if "open_clip_model" not in spec:
            raise
        raise ModelLoadError(
            f"cannot build the image tower {spec['open_clip_model']!r} with pretrained "
            f"{spec.get('pretrained')!r}: {exc}. A hub profile needs model-hub access (or a local weights "
            "file as `pretrained`); without it use the default profile") from exc


def quantize_int8(model: OctopusModel, embedding: str = "fp16") -> None:
    """int8 for the decoder layers' Linear modules (per-channel weights, per-token activations:
    octopus_ros.model.int8). The tied token-embedding matrix, 262k x 640 for Gemma and most of the LM's bytes
    (671 MB in fp32), is only read by rows (prompt tokens in, decoding candidates out): it is stored in fp16
    (335 MB; OctopusModel casts rows back to fp32), or with `embedding="int8"` as int8 with a scale per 32
    columns (189 MB): 140 MiB less resident, and 47 of 1,000 test calls change, function accuracy 0.976 -> 0.973
    (Session 11 in docs/model/evaluation.md), so it is the opt-in profile setting `quantize: int8-embedding`."""
    quantize_linears(model.decoder_layers)
    if embedding == "int8":
        table = Int8Embedding(model.lm.get_input_embeddings())
        # one module for both ends, as the tie was: the full vocabulary head is never run (OctopusModel scores
        # candidate rows via output_rows), and dropping the old Linear lets its matrix go
        model.lm.set_input_embeddings(table)
        model.lm.set_output_embeddings(table)
    else:
        table = model.lm.get_input_embeddings()
        table.weight.data = table.weight.data.half()
    # from_pretrained leaves the remaining tensors as views of the memory-mapped safetensors file, which
    # keeps every page of it that was read (the fp32 layers quantised above included) resident; copies let
    # the mapping go (measured: 2,102 -> 1,498 MiB resident after load, docs/model/evaluation.md)
    for tensor in [*model.lm.parameters(), *model.lm.buffers()]:
        if tensor.dtype != torch.int8:   # the int8 tensors were just made: already copies
            tensor.data = tensor.data.clone()
    gc.collect()   # the mapping's last references sit in reference cycles: without this it outlives the load
    _return_freed_heap()


def _return_freed_heap() -> None:
    """Quantising frees about 400 MB of fp32 temporaries. glibc keeps freed heap pages resident when live
    objects sit above them, which depends on what the process allocated before (measured: 1,478 MiB after
    load in a fresh process, 1,700-1,848 in the bench worker); malloc_trim hands them back. No-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass
