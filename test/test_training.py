"""The four training stages and `train all` on a tiny hermetic dataset with the tiny-random profile (real
architecture, random weights): one process, and two processes under torchrun on the gloo backend (the
data-parallel path users with many GPUs take). Checks plumbing, chaining and resumability, not accuracy."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from octopus_ros.training.synth.build import SynthConfig, build
from synth_helpers import REPO, tiny_config

STAGE_STEPS = {"contrastive": 3, "align": 2, "functional": 3, "refine": 2}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    base = tmp_path_factory.mktemp("train-data")
    cfg = tiny_config(base, seed=5, sizes={"train": 3, "val": 1, "test": 1})
    cfg["image"] = {"context_rate": 0.15, "caption_frames": 1}
    build(SynthConfig(name="tiny", workers=1, **cfg), base / "data")
    return base / "data"


def write_configs(folder: Path, data: Path, runs: Path) -> Path:
    """Stage YAMLs like config/train/*.yaml, shrunk to a few steps and pointed at temporary folders."""
    folder.mkdir(parents=True, exist_ok=True)
    chain = {"contrastive": None, "align": "contrastive", "functional": "align", "refine": "functional"}
    for stage, previous in chain.items():
        cfg = yaml.safe_load((REPO / "config/train" / f"{stage}.yaml").read_text())
        cfg.update(data=str(data), profile="tiny-random", steps=STAGE_STEPS[stage], run_dir=str(runs / stage),
                   out=str(runs / stage / "checkpoint"), save_every=2, log_every=1, batch_size=4, threads=1)
        cfg.pop("warmup", None)
        if previous:
            cfg["init_from"] = str(runs / previous / "checkpoint")
        if stage == "refine":
            cfg["mine_examples"] = 40
        (folder / f"{stage}.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def run_cli(args: list[str], cwd: Path, env_extra: dict | None = None, timeout: int = 600):
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_train_all_one_process_then_resume(tiny_data, tmp_path):
    runs = tmp_path / "runs"
    configs = write_configs(tmp_path / "configs", tiny_data, runs)
    cli = [sys.executable, "-m", "octopus_ros.cli", "train", "all", "--config-dir", str(configs), "--eval-limit", "0"]
    run_cli(cli, tmp_path)
    for stage, steps in STAGE_STEPS.items():
        meta = json.loads((runs / stage / "checkpoint" / "octopus.json").read_text())
        assert meta["info"]["stage"] == stage
        state = torch.load(runs / stage / "state.pt", weights_only=False) if (runs / stage / "state.pt").exists() \
            else None
        if stage != "refine" or state is not None:   # refine trains only when it mined mistakes
            assert state["step"] == steps
    logged = [json.loads(line) for line in (runs / "functional" / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in logged] == [1, 2, 3]
    assert all(row["loss"] == row["loss"] and row["loss"] > 0 for row in logged)   # finite, positive
    # the stage-3 checkpoint starts from stage 2's projector: training moved it away from that start
    align = load_file(str(runs / "align" / "checkpoint" / "trained.safetensors"))
    functional = load_file(str(runs / "functional" / "checkpoint" / "trained.safetensors"))
    key = next(k for k in align if k.startswith("projector."))
    assert not torch.equal(align[key], functional[key])
    # a second run resumes every stage at its last step: no optimiser step runs again
    before = (runs / "functional" / "metrics.jsonl").read_text()
    out = run_cli(cli, tmp_path)
    assert (runs / "functional" / "metrics.jsonl").read_text() == before
    assert "resumed from" in out.stdout


def test_functional_stage_under_torchrun_gloo(tiny_data, tmp_path):
    """Two CPU processes, gloo backend: the same command as one process, data-parallel."""
    runs = tmp_path / "runs"
    configs = write_configs(tmp_path / "configs", tiny_data, runs)
    cfg = yaml.safe_load((configs / "functional.yaml").read_text())
    cfg["init_from"] = None
    (configs / "functional.yaml").write_text(yaml.safe_dump(cfg))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                "-m", "octopus_ros.cli", "train", "functional", "--config", str(configs / "functional.yaml")]
    run_cli(torchrun, tmp_path, {"OMP_NUM_THREADS": "1"})
    meta = json.loads((runs / "functional" / "checkpoint" / "octopus.json").read_text())
    assert meta["info"]["world_size"] == 2
    state = torch.load(runs / "functional" / "state.pt", weights_only=False)
    assert state["step"] == STAGE_STEPS["functional"]
