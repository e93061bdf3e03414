"""scripts/demo.sh (the README demo) with the tiny random model: runs without a TTY, every command is
answered (a FunctionCall or the status explaining no_action), and the node is stopped at the end."""
from __future__ import annotations

import os
import subprocess

import pytest

from ros_helpers import REPO, ros_subprocess_env

pytestmark = [pytest.mark.ros]


def test_demo_script_with_tiny_model(ros_domain_id):
    env = ros_subprocess_env()
    env.update(CI="true", OCTOPUS_MODEL="tiny-random", OCTOPUS_DEMO_TIMEOUT="300")
    proc = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], capture_output=True, text=True, env=env,
                          cwd=REPO, stdin=subprocess.DEVNULL, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    sends = out.count("== octopus-ros send")
    answers = out.count("\nfunction_call:") + out.count("\nstatus:")
    assert sends >= 6 and answers == sends, out
    assert "stopping the agent node" in out
    assert f"ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']}" in out
