"""The simulated home end to end: real processes, real DDS.

- `octopus-ros scenario` as a subprocess, bringing up its own sim node (the command line launch_ros runs);
- scenario files against a sim node + an agent node (tiny-random: plumbing only; steps that need language
  understanding are skipped unless models/default is trained), with injected `call:` steps so the
  sim + controller loop is checked whatever the model;
- command -> decision latency of the agent node with the sim camera off vs at 30 Hz, in one run.

Waits use subscription matching / message arrival, never fixed sleeps.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ros_helpers import ros_subprocess_env

pytestmark = [pytest.mark.ros]

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("pybullet", reason="pybullet is not installed (requirements.txt)")

from octopus_ros.sim.bringup import NodeProcess, agent_command, sim_command  # noqa: E402
from octopus_ros.sim.cli import run_scenario_files  # noqa: E402
from octopus_ros.sim.scenario import ScenarioClient, model_trained  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
MODEL_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def agent(tmp_path_factory, ros_domain_id):
    """The agent node with the tiny random model (started first: its model takes the longest to load)."""
    proc = NodeProcess("agent", agent_command("tiny-random"), tmp_path_factory.mktemp("agent") / "agent.log")
    yield proc
    proc.stop()


def _sim(tmp_path, name="sim", **params) -> NodeProcess:
    params = {"camera_width": 96, "camera_height": 72, "linear_speed": 0.0, "angular_speed_deg": 0.0, **params}
    return NodeProcess(name, sim_command(**params), tmp_path / f"{name}.log")


def test_scenario_cli_brings_up_its_own_sim(tmp_path, agent):
    """`octopus-ros scenario` with the studio layout (calls only: no agent needed, none started)."""
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "octopus-ros"), "scenario", str(SCENARIOS / "studio_tour.yaml"),
         "--speed", "4", "--camera-rate", "5", "--log-dir", str(tmp_path / "logs"), "--json", str(out)],
        capture_output=True, text=True, timeout=180, env=ros_subprocess_env(), cwd=REPO)
    print(proc.stdout[-3000:], proc.stderr[-2000:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[PASS] studio_tour" in proc.stdout
    import json

    data = json.loads(out.read_text())
    assert data[0]["status"] == "PASS" and all(s["status"] == "PASS" for s in data[0]["steps"])


def test_scenarios_through_sim_and_agent(tmp_path, agent):
    sim = _sim(tmp_path, camera_rate_hz=5.0)
    lines: list[str] = []
    try:
        files = [SCENARIOS / "fetch_mug.yaml", SCENARIOS / "failures.yaml", SCENARIOS / "agent_plumbing.yaml",
                 SCENARIOS / "language_home.yaml"]
        code, results = run_scenario_files(files, model="tiny-random", launch=False, log_dir=tmp_path,
                                           model_timeout=MODEL_TIMEOUT, printer=lines.append)
    finally:
        sim.stop()
    print("\n".join(lines))
    assert code == 0, "\n".join(lines) + "\n" + sim.log_tail() + agent.log_tail()
    by_name = {r.scenario.name: r for r in results}
    assert by_name["fetch_mug"].status == "PASS" and by_name["failures"].status == "PASS"
    plumbing = by_name["agent_plumbing"]
    assert plumbing.status == "PASS" and all(s.status == "PASS" for s in plumbing.steps)
    language = by_name["language_home"]
    trained, _ = model_trained("tiny-random")
    assert not trained
    assert language.status == "SKIP" and all("needs a trained model" in s.detail for s in language.steps)


def _latencies(client: ScenarioClient, n: int) -> list[float]:
    """Send n commands one after the other: command -> decision (FunctionCall or outcome) latency in ms."""
    e2e = []
    for i in range(n):
        rid = f"lat-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        client.send_command("turn on the kitchen light" if i % 2 else "stop", rid)
        answer = client.agent_answer(rid, 120.0)
        assert answer, f"no decision for {rid}"
        e2e.append((time.perf_counter() - t0) * 1000)
    return e2e


def test_camera_at_30hz_does_not_delay_commands(tmp_path, agent):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    client = ScenarioClient()
    frames: list[float] = []
    client.node.create_subscription(Image, "/camera/image_raw", lambda m: frames.append(time.monotonic()),
                                    qos_profile_sensor_data)
    results = {}
    try:
        problem = client.wait_agent(MODEL_TIMEOUT)
        assert not problem, problem + agent.log_tail()
        _latencies(client, 2)  # warm-up
        for label, rate in (("camera off", 0.0), ("camera 30 Hz", 30.0)):
            sim = _sim(tmp_path, f"sim-{int(rate)}", camera_rate_hz=rate, camera_width=160, camera_height=120,
                       rerender_static=True)
            try:
                assert not client.wait_sim(60.0), sim.log_tail()
                if rate:
                    client.spin_until(lambda: len(frames) >= 10, 20.0)
                frames.clear()
                t0 = time.monotonic()
                e2e = _latencies(client, 6)
                seconds = time.monotonic() - t0
            finally:
                sim.stop()
                client.world_states.clear()
            results[label] = {"e2e_median_ms": statistics.median(e2e), "e2e_min_ms": min(e2e),
                              "e2e_max_ms": max(e2e), "camera_hz_received": len(frames) / seconds}
    finally:
        client.close()
    for label, r in results.items():
        print(f"{label}: command->decision median {r['e2e_median_ms']:.0f} ms (min {r['e2e_min_ms']:.0f}, "
              f"max {r['e2e_max_ms']:.0f}), camera received {r['camera_hz_received']:.1f} Hz")
    (tmp_path / "latency.json").write_text(__import__("json").dumps(results, indent=2))
    off, on = results["camera off"], results["camera 30 Hz"]
    # The rate that arrives depends on the CPU (rendering + DDS on a shared 2-core machine): it is reported,
    # and only required to be a running camera here.
    assert on["camera_hz_received"] > 1, "the camera did not reach the test client"
    # Generous on purpose: with the camera on, the model also encodes the image, and on a shared 2-core CPU the
    # sim's rendering competes with the agent (docs/simulation.md has measured numbers). What must not happen
    # is commands waiting behind camera frames (an unbounded backlog): that would be far beyond this ratio.
    assert on["e2e_median_ms"] < 6 * off["e2e_median_ms"] + 2000


@pytest.mark.skipif(not model_trained("default")[0], reason="models/default/octopus.json is missing: the "
                    "default model is not trained yet (language scenarios need it)")
def test_language_scenario_with_trained_model(tmp_path, agent):
    """Last in this module: it stops the module's tiny-random agent first. That agent listens on the same
    topics, and when it was left running it answered "go to the kitchen" before the trained one (with the
    random model's invalid_output), which failed this test in CI while it passed when run alone."""
    agent.stop()
    code, results = run_scenario_files([SCENARIOS / "language_home.yaml"], model="default", launch=True,
                                       speed=0.0, log_dir=tmp_path, model_timeout=MODEL_TIMEOUT)
    assert code == 0, [(s.step.describe(), s.status, s.detail) for r in results for s in r.steps]
