"""Start the simulated home (sim node: pybullet world + controller) and the Octopus agent node.

    ros2 launch octopus_ros sim.launch.py
    ros2 launch octopus_ros sim.launch.py layout:=studio camera_rate_hz:=30.0 model:=tiny-random
    ros2 launch octopus_ros sim.launch.py agent:=false        # the sim alone (e.g. for `octopus-ros scenario --no-launch`)

Launch arguments:
  layout            layout name in config/sim/ (home, studio) or a layout YAML path
  camera_rate_hz    sim camera frames per second
  model             agent model: profile name, profile YAML or checkpoint folder; "" = agent params file's
  agent             start the agent node too (true/false)
  sim_params_file   sim node parameters; default share/octopus_ros/config/sim.yaml
  agent_params_file agent node parameters; default share/octopus_ros/config/agent.yaml
  log_level         debug, info, warn, error or fatal

The same command lines without launch_ros (octopus_ros/sim/bringup.py, used by `octopus-ros scenario`):
  sim_node   --ros-args --params-file <sim_params_file> -p layout:=... -p camera_rate_hz:=...
  agent_node --ros-args --params-file <agent_params_file> [-p model:=...] -p camera_topics:=[<sim camera>]
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CAMERA_TOPIC = '/camera/image_raw'


def _nodes(context, *args, **kwargs):
    log_level = LaunchConfiguration('log_level').perform(context)
    sim_overrides = {'layout': LaunchConfiguration('layout').perform(context),
                     'camera_topic': CAMERA_TOPIC}
    rate = LaunchConfiguration('camera_rate_hz').perform(context)
    if rate:
        sim_overrides['camera_rate_hz'] = float(rate)
    nodes = [
        Node(
            package='octopus_ros',
            executable='sim_node',
            name='octopus_sim',
            output='screen',
            emulate_tty=True,
            parameters=[LaunchConfiguration('sim_params_file').perform(context), sim_overrides],
            arguments=['--ros-args', '--log-level', log_level],
        ),
    ]
    if LaunchConfiguration('agent').perform(context).lower() in ('true', '1', 'yes'):
        agent_overrides = {'camera_topics': [CAMERA_TOPIC]}
        model = LaunchConfiguration('model').perform(context)
        if model:
            agent_overrides['model'] = model
        nodes.append(
            Node(
                package='octopus_ros',
                executable='agent_node',
                name='octopus_agent',
                output='screen',
                emulate_tty=True,
                parameters=[LaunchConfiguration('agent_params_file').perform(context), agent_overrides],
                arguments=['--ros-args', '--log-level', log_level],
            ))
    return nodes


def generate_launch_description():
    share = get_package_share_directory('octopus_ros')
    return LaunchDescription([
        DeclareLaunchArgument(
            'layout', default_value='home',
            description='Layout name in config/sim/ (home, studio) or a path to a layout YAML'),
        DeclareLaunchArgument(
            'camera_rate_hz', default_value='',
            description='Sim camera frames per second; empty = the value in sim_params_file'),
        DeclareLaunchArgument(
            'model', default_value='',
            description='Agent model: profile name, profile YAML or checkpoint folder; '
                        'empty = the value in agent_params_file'),
        DeclareLaunchArgument(
            'agent', default_value='true',
            description='Also start the octopus_agent node (true/false)'),
        DeclareLaunchArgument(
            'sim_params_file', default_value=os.path.join(share, 'config', 'sim.yaml'),
            description='ROS parameters file for the octopus_sim node'),
        DeclareLaunchArgument(
            'agent_params_file', default_value=os.path.join(share, 'config', 'agent.yaml'),
            description='ROS parameters file for the octopus_agent node'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description='Logging level: debug, info, warn, error or fatal'),
        OpaqueFunction(function=_nodes),
    ])
