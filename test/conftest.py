"""Shared pytest set-up for octopus_ros.

ROS isolation: every test session gets its own ROS_DOMAIN_ID (derived from the pid, 1..100, or
taken from OCTOPUS_TEST_ROS_DOMAIN_ID) and ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, set in
os.environ before any test runs, so rclpy contexts created by tests and node processes started
with `env=ros_env` (or inheriting os.environ) only see each other, never another engineer's test
run or a robot on the network.

Markers (registered in pyproject.toml, --strict-markers): `slow` (> 1 min), `ros` (uses rclpy).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _choose_domain_id() -> int:
    override = os.environ.get('OCTOPUS_TEST_ROS_DOMAIN_ID')
    if override:
        return int(override)
    return 1 + os.getpid() % 100


def pytest_configure(config: pytest.Config) -> None:
    # As early as possible (before collection imports anything that could init rclpy).
    # Each pytest(-xdist worker) process picks its own domain, so parallel sessions do not mix.
    os.environ['ROS_DOMAIN_ID'] = str(_choose_domain_id())
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.pop('ROS_STATIC_PEERS', None)


def pytest_report_header(config: pytest.Config) -> str:
    return (f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID')} "
            f"ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE')}")


@pytest.fixture(scope='session', autouse=True)
def ros_domain_id() -> int:
    """The ROS_DOMAIN_ID of this test session (also exported in os.environ)."""
    if 'ROS_DOMAIN_ID' not in os.environ:  # pytest_configure was bypassed
        pytest_configure(None)  # type: ignore[arg-type]
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    return int(os.environ['ROS_DOMAIN_ID'])


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """The repository root (the directory holding package.xml)."""
    return REPO_ROOT


@pytest.fixture
def ros_env(ros_domain_id: int) -> dict[str, str]:
    """Environment for ROS subprocesses (nodes started like launch_ros does): this session's
    domain, loopback discovery, unbuffered output, and the repo importable first."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(ros_domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['PYTHONUNBUFFERED'] = '1'
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return env


@pytest.fixture
def rclpy_context(ros_domain_id: int):
    """An initialised rclpy Context of its own (shut down after the test)."""
    rclpy = pytest.importorskip('rclpy')
    context = rclpy.context.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)


@pytest.fixture(scope='session')
def venv_python() -> str:
    """The Python interpreter running the tests (the venv's, under `make test`)."""
    return sys.executable
