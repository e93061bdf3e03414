"""`octopus-ros train soup`: two checkpoints of the tiny-random model (real architecture, random weights) with
different trained tensors average into one whose merged weights are the mean of theirs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from octopus_ros.actions import ActionRegistry
from octopus_ros.model.checkpoint import load_trained_weights, read_meta, save_checkpoint
from octopus_ros.model.errors import ModelLoadError
from octopus_ros.model.factory import build_model
from octopus_ros.model.lora import merge_lora
from octopus_ros.model.profile import load_profile, profile_from_dict
from octopus_ros.training.soup import SoupError, average_checkpoints

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = REPO / "config/functions.yaml"


def _model(profile):
    registry = ActionRegistry.from_yaml(FUNCTIONS)
    return build_model(profile, [f.name for f in registry.functions], [f.description for f in registry.functions])


def _checkpoint(folder: Path, seed: int) -> Path:
    """A tiny-random checkpoint whose trained tensors (LoRA B included, which starts at zero) are random."""
    profile = load_profile("tiny-random")
    model = _model(profile)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.trained_state_dict().items():
            model.get_parameter(name).copy_(torch.randn(tensor.shape, generator=generator) * 0.02)
    registry = ActionRegistry.from_yaml(FUNCTIONS)
    return save_checkpoint(folder, model, profile.raw, FUNCTIONS, registry.fingerprint(), [1, 2, 3],
                           info={"stage": "functional", "seed": seed})


def _merged_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The LM and head weights of the checkpoint as inference uses them: LoRA merged into the base."""
    profile = profile_from_dict(read_meta(folder)["profile"])
    torch.manual_seed(0)   # tiny-random's base weights are random: the same draw for every checkpoint
    model = _model(profile)
    load_trained_weights(model, folder)
    merge_lora(model)
    return {k: v.clone() for k, v in model.state_dict().items() if "lora" not in k}


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    base = tmp_path_factory.mktemp("soup")
    return _checkpoint(base / "a", seed=1), _checkpoint(base / "b", seed=2)


def test_the_soup_merges_to_the_mean_of_its_ingredients(two_checkpoints, tmp_path):
    a, b = two_checkpoints
    soup = average_checkpoints([a, b], tmp_path / "soup")
    lora_a, lora_b = read_meta(a)["profile"]["head"]["lora"], read_meta(soup)["profile"]["head"]["lora"]
    assert lora_b["rank"] == 2 * lora_a["rank"] and lora_b["alpha"] == 2 * lora_a["alpha"]
    assert read_meta(soup)["info"]["soup_of"] == [str(a), str(b)]
    assert (soup / "functions.yaml").read_text() == (a / "functions.yaml").read_text()
    wa, wb, ws = _merged_weights(a), _merged_weights(b), _merged_weights(soup)
    changed = [k for k in ws if not torch.equal(wa[k], wb[k])]
    assert any("q_proj" in k for k in changed) and any("function_head" in k for k in changed)
    for name in changed:
        torch.testing.assert_close(ws[name], (wa[name] + wb[name]) / 2, rtol=1e-4, atol=1e-5)


def test_the_cli_writes_a_soup_and_refuses_one_checkpoint(two_checkpoints, tmp_path):
    a, b = two_checkpoints
    cli = [sys.executable, "-m", "octopus_ros.cli", "train", "soup"]
    done = subprocess.run(cli + [str(a), str(b), "--out", str(tmp_path / "soup")], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "averaged 2 checkpoints" in done.stdout and (tmp_path / "soup" / "trained.safetensors").exists()
    alone = subprocess.run(cli + [str(a), "--out", str(tmp_path / "one")], capture_output=True, text=True, cwd=REPO,
                           timeout=300)
    assert alone.returncode != 0 and "two or more checkpoints" in alone.stderr


def test_checkpoints_that_do_not_match_are_refused(two_checkpoints, tmp_path):
    a, b = two_checkpoints
    other = tmp_path / "other"
    other.mkdir()
    for item in b.iterdir():
        (other / item.name).write_bytes(item.read_bytes())
    meta = json.loads((other / "octopus.json").read_text())
    meta["functions_fingerprint"] = "another action set"
    (other / "octopus.json").write_text(json.dumps(meta))
    with pytest.raises(SoupError, match="another action set"):
        average_checkpoints([a, other], tmp_path / "x")
    meta = json.loads((b / "octopus.json").read_text())
    (other / "octopus.json").write_text(json.dumps(meta))
    state = load_file(str(b / "trained.safetensors"))
    state.pop("function_head")
    save_file(state, str(other / "trained.safetensors"))
    with pytest.raises(SoupError, match="other trained tensors"):
        average_checkpoints([a, other], tmp_path / "y")
    with pytest.raises(SoupError, match="new folder"):
        average_checkpoints([a, b], a)
    (other / "trained.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ModelLoadError, match="missing or corrupt"):
        average_checkpoints([a, other], tmp_path / "z")
