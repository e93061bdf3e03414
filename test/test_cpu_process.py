"""Our entry points keep Triton (the CUDA wheels' GPU compiler) out of the process: open_clip, torchvision and
the model still import and run without it. In a fresh interpreter, as pytest's own may have loaded it."""
from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("torch")

SCRIPT = """
import sys
from octopus_ros.cpu_process import leave_out_triton
leave_out_triton()
import open_clip, torchvision, torch
from octopus_ros.model import OctopusAgent
result = OctopusAgent.load("tiny-random", threads=1).infer("turn on the kitchen light")
assert result.outcome in ("call", "no_action"), result.reason
assert sys.modules["triton"] is None
maps = open("/proc/self/maps").read()
print("libtriton" in maps)
"""


def test_the_model_runs_without_triton_loaded():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_the_cli_sets_it_up_before_any_command(monkeypatch):
    from octopus_ros import cli

    calls = []
    monkeypatch.setattr(cli, "leave_out_triton", lambda: calls.append(1))
    assert cli.main(["--help"]) == 0
    assert calls == [1]
