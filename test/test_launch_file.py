"""launch/agent.launch.py evaluated against minimal stand-ins of launch / launch_ros (which are not
installable here): its arguments, and the Node action each combination of arguments produces. The real
launch run is test_launch.py (launch_testing, ROS distro only)."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


class _Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


def _stub_modules(share: Path) -> dict[str, types.ModuleType]:
    mods = {name: types.ModuleType(name) for name in (
        "launch", "launch.actions", "launch.substitutions", "launch_ros", "launch_ros.actions",
        "ament_index_python", "ament_index_python.packages")}
    mods["launch"].LaunchDescription = lambda entities: list(entities)
    mods["launch.actions"].DeclareLaunchArgument = type("DeclareLaunchArgument", (_Recorder,), {})
    mods["launch.actions"].OpaqueFunction = type("OpaqueFunction", (_Recorder,), {})
    mods["launch.substitutions"].LaunchConfiguration = _LaunchConfiguration
    mods["launch_ros.actions"].Node = type("Node", (_Recorder,), {})
    mods["ament_index_python.packages"].get_package_share_directory = (
        lambda pkg: str(share) if pkg == "octopus_ros" else (_ for _ in ()).throw(LookupError(pkg)))
    return mods


@pytest.fixture
def launch_file(monkeypatch):
    share = Path("/opt/ros/x/share/octopus_ros")
    for name, mod in _stub_modules(share).items():
        monkeypatch.setitem(sys.modules, name, mod)
    spec = importlib.util.spec_from_file_location("agent_launch", REPO / "launch" / "agent.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entities = module.generate_launch_description()
    args = {e.args[0]: e.kwargs for e in entities if type(e).__name__ == "DeclareLaunchArgument"}
    opaque = [e for e in entities if type(e).__name__ == "OpaqueFunction"]
    assert len(opaque) == 1

    def nodes(**given):
        values = {name: kw["default_value"] for name, kw in args.items()}
        values.update(given)
        context = types.SimpleNamespace(launch_configurations=values)
        return opaque[0].kwargs["function"](context)

    return args, nodes, share


def test_launch_arguments(launch_file):
    args, _, share = launch_file
    assert set(args) == {"model", "camera_topic", "taught_objects", "params_file", "log_level"}
    assert args["params_file"]["default_value"] == str(share / "config" / "agent.yaml")
    assert all(kw.get("description") for kw in args.values())


def test_node_action_defaults(launch_file):
    _, nodes, share = launch_file
    (node,) = nodes()
    kw = node.kwargs
    assert (kw["package"], kw["executable"], kw["name"]) == ("octopus_ros", "agent_node", "octopus_agent")
    assert kw["parameters"] == [str(share / "config" / "agent.yaml")]
    assert kw["arguments"] == ["--ros-args", "--log-level", "info"]


def test_node_action_overrides(launch_file):
    _, nodes, _ = launch_file
    (node,) = nodes(model="tiny-random", camera_topic="/front/image_raw", params_file="/tmp/p.yaml",
                    log_level="debug", taught_objects="/tmp/taught.safetensors")
    assert node.kwargs["parameters"] == ["/tmp/p.yaml", {"model": "tiny-random", "camera_topics": ["/front/image_raw"],
                                                         "taught_objects": "/tmp/taught.safetensors"}]
    assert node.kwargs["arguments"][-1] == "debug"


def test_params_file_node_name_matches_launch(repo_root):
    import yaml

    from octopus_ros.node.agent_node import NODE_NAME

    from octopus_ros.speech.speech_node import NODE_NAME as SPEECH_NODE_NAME

    assert list(yaml.safe_load((repo_root / "config" / "agent.yaml").read_text())) == [NODE_NAME, SPEECH_NODE_NAME]
    assert f"name='{NODE_NAME}'" in (repo_root / "launch" / "agent.launch.py").read_text()
