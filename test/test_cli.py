"""The `octopus-ros` command line: help everywhere, fast start-up, `run` pass-through, `infer` offline.
(`send` against a running node is tested in test_node_e2e.py.)"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from ros_helpers import REPO, RosClient, ros_subprocess_env

CLI = [sys.executable, "-m", "octopus_ros.cli"]


def _run(args, timeout=120, **kwargs):
    return subprocess.run(CLI + args, capture_output=True, text=True, env=ros_subprocess_env(), cwd=REPO,
                          timeout=timeout, **kwargs)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["send", "--help"], ["infer", "--help"], ["-h"]])
def test_help(args):
    proc = _run(args)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
    if args != ["--help"] and args != ["-h"]:
        assert "Examples" in proc.stdout


def test_top_level_help_lists_commands_without_importing_them():
    code = ("import sys\nfrom octopus_ros.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'rclpy', 'octopus_ros.model') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ros_subprocess_env(),
                          cwd=REPO, timeout=60)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    for name in ("run", "send", "infer"):
        assert name in proc.stdout


def test_startup_is_fast():
    _run(["--help"])  # warm the file cache
    times = []
    for _ in range(3):
        start = time.monotonic()
        assert _run(["--help"]).returncode == 0
        times.append(time.monotonic() - start)
    assert min(times) < 1.5, times  # ~0.3 s on the 2-core CI machine


def test_missing_sub_app_does_not_break_the_cli(monkeypatch):
    from octopus_ros import cli

    monkeypatch.setitem(cli.SUBCOMMANDS, "nothere", ("octopus_ros.does_not_exist.cli", "app", "Missing."))
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0 and "nothere" not in result.output


def test_send_bad_image_file(tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"nope")
    proc = _run(["send", "pick that up", "--image", str(bad)])
    assert proc.returncode == 2 and "cannot" in proc.stderr


def test_run_passes_ros_args_and_stops_on_sigint(tmp_path, ros_domain_id):
    """`octopus-ros run` = the node with config/agent.yaml; extra --ros-args override. A model path that does not
    exist keeps it cheap: the node must come up, report the failed load, and exit 0 on SIGINT."""
    prefix = "/clirun"
    args = CLI + ["run", "--model", str(tmp_path / "missing.yaml"), "--log-level", "warn", "--ros-args",
                  "-p", f"status_topic:={prefix}/status", "-p", f"command_msg_topic:={prefix}/command_msg",
                  "-p", f"command_topic:={prefix}/command", "-p", f"query_service:={prefix}/query",
                  "-p", f"action_topic:={prefix}/action", "-p", f"camera_topics:=[{prefix}/camera]",
                  "-r", "__node:=octopus_clirun"]
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=ros_subprocess_env(), cwd=REPO)
    client = RosClient(ros_domain_id, prefix=prefix, camera=f"{prefix}/camera")
    try:
        client.wait_connected(60)
        assert client.wait_model_state(timeout=60) == "error"
        assert "missing.yaml" in client.statuses[-1].last_error
    finally:
        client.close()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(20)
        log.close()
    assert code == 0, (tmp_path / "run.log").read_text()


def test_infer_offline_json(tmp_path):
    from PIL import Image

    path = tmp_path / "frame.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path)
    proc = _run(["infer", "打开客厅的台灯", "--image", str(path), "--model", "tiny-random", "--json", "--threads", "2"],
                timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["outcome"] in ("call", "no_action") and result["language"] == "zh"
    assert "image_encode" in result["timings_ms"]
