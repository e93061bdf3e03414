"""The ROS user's path: `colcon build` of the repo gives a complete install space.

Builds with the venv's colcon against the venv's ROS 2 (the prefix that scripts/setup.sh
populates), from a copy of the repo in a temporary directory: the venv lives inside the repo, and
CMake refuses to export include directories (the venv's numpy headers) that lie inside the source
tree unless they also lie inside the install prefix (fine for setup.sh, which installs into the
venv; not for a separate install space). A ROS user's workspace has no such overlap.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PREFIX = Path(sys.prefix)


def _colcon_available() -> bool:
    try:
        import colcon_cmake  # noqa: F401
        import colcon_core  # noqa: F401
        import colcon_ros  # noqa: F401
    except ImportError:
        return False
    return (PREFIX / 'share' / 'rosidl_default_generators').is_dir()


@pytest.mark.skipif(not _colcon_available(),
                    reason='needs colcon and ROS 2 in this Python prefix (run scripts/setup.sh)')
@pytest.mark.skipif(shutil.which('cmake') is None, reason='needs cmake')
def test_colcon_build(tmp_path: Path):
    src = tmp_path / 'src' / 'octopus_ros'
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        '.git', '.venv', '.cache', 'build', 'install', 'log', 'data', '__pycache__',
        '.pytest_cache', '.hypothesis', '*.egg-info'))
    build, install, log = tmp_path / 'build', tmp_path / 'install', tmp_path / 'log'
    env = dict(os.environ)
    env.update({
        'CMAKE_PREFIX_PATH': str(PREFIX),
        'AMENT_PREFIX_PATH': str(PREFIX),
        'PATH': os.pathsep.join([str(PREFIX / 'bin'), env.get('PATH', '')]),
        'COLCON_HOME': str(tmp_path / 'colcon_home'),
        'MAKEFLAGS': '-j2',
        'CMAKE_BUILD_PARALLEL_LEVEL': '2',
    })
    cmd = [sys.executable, '-m', 'colcon', '--log-base', str(log), 'build',
           '--base-paths', str(src), '--build-base', str(build), '--install-base', str(install),
           '--event-handlers', 'console_direct+',
           '--cmake-args', f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF']
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - t0
    output = proc.stdout[-8000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, f'colcon build failed ({elapsed:.0f} s):\n{output}'
    assert 'Finished <<< octopus_ros' in proc.stdout, output

    prefix = install / 'octopus_ros'  # colcon's default isolated layout
    site = Path(sysconfig.get_path('purelib', vars={'base': str(prefix)}))
    for rel in ('octopus_ros/msg/_function_call.py', 'octopus_ros/srv/_query.py',
                'octopus_ros/__init__.py'):
        assert (site / rel).is_file(), f'missing {site / rel}'
    assert 'extend_path' in (site / 'octopus_ros' / '__init__.py').read_text()
    assert list(site.glob('octopus_ros/octopus_ros_s__rosidl_typesupport_c*.so'))
    for exe in ('agent_node', 'octopus-ros'):
        path = prefix / 'lib' / 'octopus_ros' / exe
        assert path.is_file() and os.access(path, os.X_OK), f'missing executable {path}'
        assert path.read_text().startswith(f'#!{sys.executable}\n')
    share = prefix / 'share' / 'octopus_ros'
    assert (share / 'package.xml').is_file()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'octopus_ros').is_file()
    for folder in ('launch', 'config'):
        if (src / folder).is_dir():
            assert (share / folder).is_dir(), f'{folder}/ not installed to {share}'
    if (src / 'launch').is_dir():
        assert list((share / 'launch').glob('*.py')), 'no launch file installed'

    # The install space works on its own, as after `source install/setup.bash`: its octopus_ros
    # comes first and holds both the code and the generated messages.
    run_env = dict(env)
    run_env['PYTHONPATH'] = str(site)
    run_env['LD_LIBRARY_PATH'] = os.pathsep.join(
        [str(prefix / 'lib'), env.get('LD_LIBRARY_PATH', '')])
    run_env['AMENT_PREFIX_PATH'] = os.pathsep.join([str(prefix), str(PREFIX)])
    check = ('import octopus_ros, octopus_ros.msg;'
             'from rclpy.serialization import serialize_message;'
             'serialize_message(octopus_ros.msg.FunctionCall(function_name="x"));'
             'print(octopus_ros.__file__); print(octopus_ros.msg.__file__)')
    out = subprocess.run([sys.executable, '-c', check], cwd=tmp_path, env=run_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    init_file, msg_file = out.stdout.split()
    assert Path(init_file).resolve() == (site / 'octopus_ros' / '__init__.py').resolve()
    assert Path(msg_file).resolve() == (site / 'octopus_ros' / 'msg' / '__init__.py').resolve()
    print(f'colcon build took {elapsed:.0f} s')
