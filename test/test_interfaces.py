"""The package skeleton: interface definitions, generated message modules, package metadata."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INTERFACE_FILES = sorted((REPO / 'msg').glob('*.msg')) + sorted((REPO / 'srv').glob('*.srv'))
FIELD_RE = re.compile(r'^\s*([A-Za-z][\w/]*(?:\[\d*\]|\[<=\d+\])?)\s+([a-z]\w*)\s*(?:#.*)?$')
CONSTANT_RE = re.compile(r'^\s*[A-Za-z][\w/]*\s+[A-Z][A-Z0-9_]*\s*=')


def test_interface_files_exist():
    names = {p.name for p in INTERFACE_FILES}
    assert {'FunctionCall.msg', 'Argument.msg', 'Command.msg', 'AudioData.msg', 'AgentStatus.msg',
            'Query.srv'} <= names


@pytest.mark.parametrize('path', INTERFACE_FILES, ids=lambda p: p.name)
def test_every_field_is_commented(path: Path):
    lines = path.read_text(encoding='utf-8').splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith('#') or line.strip() == '---':
            continue
        if CONSTANT_RE.match(line):
            continue
        m = FIELD_RE.match(line)
        assert m, f'{path.name}:{i + 1}: cannot parse {line!r}'
        inline = '#' in line
        above = i > 0 and lines[i - 1].lstrip().startswith('#')
        if not (inline or above):
            undocumented.append(m.group(2))
    assert not undocumented, f'{path.name}: fields without a comment: {undocumented}'


def _field_types(cls) -> dict[str, str]:
    return dict(cls.get_fields_and_field_types())


def test_generated_messages_import_and_match_contract():
    from octopus_ros.msg import AgentStatus, Argument, AudioData, Command, FunctionCall
    from octopus_ros.srv import Query

    assert _field_types(FunctionCall) == {
        'header': 'std_msgs/Header', 'request_id': 'string', 'function_name': 'string',
        'token_id': 'int32', 'arguments_json': 'string',
        'arguments': 'sequence<octopus_ros/Argument>', 'confidence': 'float',
        'image_stamp': 'builtin_interfaces/Time', 'has_image': 'boolean',
        'camera_topic': 'string', 'command_text': 'string', 'language': 'string',
        'inference_ms': 'float', 'raw_output': 'string'}
    assert _field_types(Argument) == {'name': 'string', 'type': 'string', 'value': 'string'}
    assert _field_types(Command) == {'header': 'std_msgs/Header', 'request_id': 'string',
                                     'text': 'string', 'language': 'string', 'camera': 'string'}
    assert _field_types(AudioData) == {'header': 'std_msgs/Header', 'sample_rate': 'uint32',
                                       'channels': 'uint8', 'encoding': 'string',
                                       'data': 'sequence<uint8>'}
    status = _field_types(AgentStatus)
    for name in ('level', 'message', 'model_state', 'queue_depth', 'queue_capacity',
                 'dropped_count', 'last_latency_ms', 'last_error', 'last_request_id',
                 'last_outcome'):
        assert name in status
    assert (AgentStatus.OK, AgentStatus.WARN, AgentStatus.ERROR) == (0, 1, 2)
    assert _field_types(Query.Request) == {'text': 'string', 'language': 'string',
                                           'image': 'sensor_msgs/Image', 'has_image': 'boolean'}
    assert _field_types(Query.Response) == {'success': 'boolean', 'error': 'string',
                                            'call': 'octopus_ros/FunctionCall'}


def test_serialization_round_trip():
    from rclpy.serialization import deserialize_message, serialize_message

    from octopus_ros.msg import Argument, FunctionCall

    msg = FunctionCall(request_id='r1', function_name='move', token_id=1,
                       arguments_json='{"direction": "forward", "distance_m": 10.0}',
                       arguments=[Argument(name='direction', type='enum', value='forward'),
                                  Argument(name='distance_m', type='float', value='10')],
                       confidence=0.5, command_text='向前走十米', language='zh')
    back = deserialize_message(serialize_message(msg), FunctionCall)
    assert back == msg


def test_one_package_merges_repo_code_and_generated_modules(tmp_path: Path):
    """From outside the repo (as console scripts run) and from the repo root (as pytest runs),
    octopus_ros is one package: the repo's code plus the generated msg/srv."""
    code = ('import importlib.util, json, octopus_ros, octopus_ros.msg, octopus_ros.srv;'
            'print(json.dumps([list(octopus_ros.__path__), octopus_ros.msg.__file__]))')
    for cwd in (tmp_path, REPO):
        out = subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        paths, msg_file = json.loads(out.stdout)
        assert (REPO / 'octopus_ros').resolve() in [Path(p).resolve() for p in paths]
        # generated and installed (site-packages), not in the repo's octopus_ros/
        assert (REPO / 'octopus_ros').resolve() not in Path(msg_file).resolve().parents


def test_versions_agree():
    import octopus_ros

    xml_version = ET.parse(REPO / 'package.xml').getroot().findtext('version')
    toml = (REPO / 'pyproject.toml').read_text(encoding='utf-8')
    toml_version = re.search(r'^version\s*=\s*"([^"]+)"', toml, re.M).group(1)
    assert xml_version == toml_version == octopus_ros.__version__


def test_wrapper_scripts_are_executable():
    for name in ('agent_node', 'octopus-ros'):
        path = REPO / 'scripts' / name
        assert path.stat().st_mode & 0o111, f'{path} is not executable'
        assert path.read_text(encoding='utf-8').startswith('#!/usr/bin/env python3\n')


@pytest.mark.ros
def test_function_call_over_dds(rclpy_context):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from octopus_ros.msg import FunctionCall

    node = rclpy.create_node('octopus_interfaces_test', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    received = []
    try:
        pub = node.create_publisher(FunctionCall, 'octopus_test/action', 10)
        node.create_subscription(FunctionCall, 'octopus_test/action', received.append, 10)
        deadline = time.monotonic() + 10
        while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        pub.publish(FunctionCall(function_name='pick_up', token_id=4))
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert received and received[0].function_name == 'pick_up'
    finally:
        executor.shutdown()
        node.destroy_node()
