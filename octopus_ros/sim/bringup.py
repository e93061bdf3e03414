"""Bring-up without launch_ros: the sim node and the agent node as subprocesses, with the same command
lines launch/sim.launch.py makes launch_ros run:

    sim_node   --ros-args --params-file config/sim.yaml   -p layout:=home -p camera_rate_hz:=10.0 ...
    agent_node --ros-args --params-file config/agent.yaml -p model:=tiny-random -p camera_topics:=[...]

Used by `octopus-ros scenario`, `octopus-ros sim up` and the tests. Each process writes its output to a
log file; ``stop()`` sends SIGINT (what launch sends) and waits.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..actions import loader

__all__ = ["NodeProcess", "executable", "sim_command", "agent_command", "ros_env"]

REPO = Path(__file__).resolve().parents[2]


def executable(name: str, module: str) -> list[str]:
    """scripts/<name> of the checkout run with this Python, else ``python -m <module>``."""
    script = REPO / "scripts" / name
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", module]


def _param(name: str, value) -> list[str]:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = "[" + ",".join(json.dumps(v) for v in value) + "]"
    else:
        text = str(value)
    return ["-p", f"{name}:={text}"]


def sim_command(params_file: str | Path | None = None, log_level: str = "info", **params) -> list[str]:
    cmd = executable("sim_node", "octopus_ros.sim.sim_node") + ["--ros-args", "--log-level", log_level]
    params_file = params_file or loader.find_config_file("sim.yaml")
    cmd += ["--params-file", str(params_file)]
    for name, value in params.items():
        cmd += _param(name, value)
    return cmd


def agent_command(model: str, camera_topic: str = "/camera/image_raw", params_file: str | Path | None = None,
                  log_level: str = "info", **params) -> list[str]:
    cmd = executable("agent_node", "octopus_ros.node.agent_node") + ["--ros-args", "--log-level", log_level]
    params_file = params_file or loader.find_config_file("agent.yaml")
    cmd += ["--params-file", str(params_file)]
    cmd += _param("model", model)
    if camera_topic:
        cmd += _param("camera_topics", [camera_topic])
    for name, value in params.items():
        cmd += _param(name, value)
    return cmd


def ros_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "0")
    return env


class NodeProcess:
    """One node subprocess, output to ``log_path``."""

    def __init__(self, name: str, cmd: list[str], log_path: Path):
        self.name, self.cmd, self.log_path = name, cmd, Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=ros_env(), cwd=REPO if REPO.is_dir() else None)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode
