"""Model profiles (config/model/*.yaml): every profile parses, the registry-shipped LMs are pinned the same
way (package version + sha256 of the joined GGUF), and the hub profile fails cleanly without a model hub.

Light: nothing here loads an LM except the hub test, which only reaches the point where the download fails
(in a subprocess with HF_HUB_OFFLINE=1, so it fails at once instead of retrying the network for minutes).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from octopus_ros.model.errors import ModelLoadError
from octopus_ros.model.profile import PROFILES_DIR, QUANTIZE_MODES, load_profile

REPO = Path(__file__).resolve().parents[1]
REGISTRY_LMS = ["default", "smollm2-135m", "qwen2.5-0.5b"]


def _pinned_requirements() -> dict[str, str]:
    pins = {}
    text = "\n".join((REPO / name).read_text() for name in ("requirements-models.txt", "requirements-compare.txt"))
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


@pytest.mark.parametrize("path", sorted(PROFILES_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_profile_parses(path):
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.lm.get("kind") in {"gguf", "hf", "random"}
    assert profile.quantize in QUANTIZE_MODES


@pytest.mark.parametrize("name", REGISTRY_LMS)
def test_registry_lm_is_pinned(name):
    """Every part comes from a package pinned in requirements-models.txt; the joined file by sha256."""
    lm = load_profile(name).lm
    assert lm["kind"] == "gguf"
    assert re.fullmatch(r"[0-9a-f]{64}", lm["sha256"])
    assert lm["parts"] and lm["file_name"].endswith(".gguf") and lm["cache_name"]
    pins = _pinned_requirements()
    for part in lm["parts"]:
        dist = part.split("/", 1)[0].replace("_", "-")
        assert dist in pins, f"{part}: its package {dist} is not pinned in requirements-models.txt or requirements-compare.txt"
        assert f"{dist}=={pins[dist]}" in lm["package"].split() or name == "default", \
            f"{name}: lm.package should name {dist}=={pins[dist]} (the pip command in error messages)"


@pytest.mark.parametrize("name", ["smollm2-135m", "qwen2.5-0.5b"])
def test_alternative_lms_share_the_default_head_and_tower(name):
    default, other = load_profile("default"), load_profile(name)
    assert other.head == default.head
    assert other.vision == default.vision
    assert other.lm["cache_name"] != default.lm["cache_name"]


def test_hub_profile_names_real_pretrained_tags():
    hub = load_profile("hub")
    assert hub.lm == {"kind": "hf", "id": hub.lm["id"]} and "/" in hub.lm["id"]
    open_clip = pytest.importorskip("open_clip")
    assert (hub.vision["open_clip_model"], hub.vision["pretrained"]) in open_clip.list_pretrained()


_HUB_PROBE = r"""
import sys
from octopus_ros.model.agent import OctopusAgent
from octopus_ros.model.errors import ModelLoadError
from octopus_ros.model.factory import _build_vision
from octopus_ros.model.profile import load_profile
for what, call in (("agent", lambda: OctopusAgent.load("hub")),
                   ("vision", lambda: _build_vision(load_profile("hub").vision, True))):
    try:
        call()
    except ModelLoadError as exc:
        print(what, "ModelLoadError", str(exc).replace("\n", " "))
    else:
        print(what, "LOADED")
"""


def test_hub_profile_without_hub_fails_with_model_load_error():
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", _HUB_PROBE], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]  # no traceback: every failure was a ModelLoadError
    lines = {line.split(" ", 1)[0]: line for line in proc.stdout.splitlines() if line.strip()}
    if "LOADED" in lines.get("agent", ""):
        pytest.skip("this machine has the hub models cached")
    assert "ModelLoadError" in lines["agent"] and "Qwen/Qwen2.5-0.5B-Instruct" in lines["agent"], proc.stdout
    assert "ModelLoadError" in lines["vision"] and "MobileCLIP-S1" in lines["vision"], proc.stdout


def test_unknown_profile_is_a_model_load_error():
    with pytest.raises(ModelLoadError, match="not found"):
        load_profile("no-such-profile")


def test_the_default_profile_and_its_checkpoint_decode_alike():
    """models/default carries its own copy of the profile (octopus.json), which `--model models/default`
    uses: the decoding settings chosen on validation must be the same in both."""
    import json

    from octopus_ros.model.profile import profile_from_dict

    profile = load_profile("default")
    shipped = profile_from_dict(json.loads((REPO / "models/default/octopus.json").read_text())["profile"])
    assert (shipped.beams, shipped.number_margin) == (profile.beams, profile.number_margin) == (5, 2.0)
