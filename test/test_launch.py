"""launch_testing test of launch/agent.launch.py (runs where launch, launch_ros and launch_testing exist,
e.g. `colcon test` in a ROS 2 workspace; skipped cleanly here).

The same scenario runs everywhere without launch_ros in test_node_e2e.py, which starts the node with
the command line launch_ros builds: `agent_node --ros-args --params-file config/agent.yaml -p ...`.
Needs the package installed (colcon build): the launch file finds `agent_node` and the default params
file through the ament index.
"""
from __future__ import annotations

import os
import unittest
from pathlib import Path

import pytest

launch_testing = pytest.importorskip("launch_testing", reason="launch_testing is not installed (ROS distro only)")
pytest.importorskip("launch_ros", reason="launch_ros is not installed (ROS distro only)")
pytest.importorskip("launch_testing.markers")

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import launch_testing.markers  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.launch_test
@launch_testing.markers.keep_alive
def generate_test_description():
    agent = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(REPO / "launch" / "agent.launch.py")),
        launch_arguments={
            "model": "tiny-random",
            "camera_topic": "/camera/image_raw",
            "params_file": str(REPO / "config" / "agent.yaml"),
            "log_level": "info",
        }.items(),
    )
    return launch.LaunchDescription([agent, launch_testing.actions.ReadyToTest()])


class TestAgentLaunch(unittest.TestCase):
    def test_command_is_answered(self, proc_output):
        from ros_helpers import RosClient

        client = RosClient(int(os.environ.get("ROS_DOMAIN_ID", "0")))
        try:
            client.wait_connected(60)
            self.assertEqual(client.wait_model_state(), "ready")
            kind, msg = client.result(client.send("turn on the kitchen light"))
            self.assertIn(kind, ("call", "no_action", "invalid_output"))
            if kind == "call":
                self.assertEqual(msg.command_text, "turn on the kitchen light")
            response = client.call_query(client.Query.Request(text="stop"))
            self.assertTrue(response.success or response.error)
        finally:
            client.close()


@launch_testing.post_shutdown_test()
class TestAgentLaunchShutdown(unittest.TestCase):
    def test_clean_exit(self, proc_info):
        # launch stops the node with SIGINT; the node exits 0 without hanging.
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0])
