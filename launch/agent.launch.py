"""Start the Octopus agent node.

    ros2 launch octopus_ros agent.launch.py
    ros2 launch octopus_ros agent.launch.py model:=tiny-random camera_topic:=/front/image_raw
    ros2 launch octopus_ros agent.launch.py params_file:=/path/to/my_agent.yaml log_level:=debug

Launch arguments:
  model         profile name (config/model/), profile YAML or checkpoint folder; "" = the params file's
  camera_topic  sensor_msgs/Image topic of the (single) camera; "" = the params file's camera_topics
  taught_objects  file of objects taught from photos (`octopus-ros objects teach`); "" = the params file's
  params_file   ROS parameters file; default: share/octopus_ros/config/agent.yaml
  log_level     debug, info, warn, error or fatal

This is the same command line as `octopus-ros run` and as the tests' subprocess:
  agent_node --ros-args --params-file <params_file> [-p model:=...] [-p camera_topics:=[...]]
             [-p taught_objects:=...]
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _agent_node(context, *args, **kwargs):
    # Overrides are added only for arguments that were given, so an empty argument keeps the value
    # from the params file (launch_ros gives later `parameters` entries precedence).
    overrides = {}
    model = LaunchConfiguration('model').perform(context)
    if model:
        overrides['model'] = model
    camera_topic = LaunchConfiguration('camera_topic').perform(context)
    if camera_topic:
        overrides['camera_topics'] = [camera_topic]
    taught_objects = LaunchConfiguration('taught_objects').perform(context)
    if taught_objects:
        overrides['taught_objects'] = os.path.expanduser(taught_objects)
    parameters = [LaunchConfiguration('params_file').perform(context)]
    if overrides:
        parameters.append(overrides)
    return [
        Node(
            package='octopus_ros',
            executable='agent_node',
            name='octopus_agent',
            output='screen',
            emulate_tty=True,
            parameters=parameters,
            arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level').perform(context)],
        ),
    ]


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory('octopus_ros'), 'config', 'agent.yaml')
    return LaunchDescription([
        DeclareLaunchArgument(
            'model', default_value='',
            description='Model profile name (config/model/), profile YAML or checkpoint folder; '
                        'empty = the value in params_file'),
        DeclareLaunchArgument(
            'camera_topic', default_value='',
            description='sensor_msgs/Image camera topic; empty = camera_topics from params_file'),
        DeclareLaunchArgument(
            'taught_objects', default_value='',
            description='Objects taught from photos (octopus-ros objects teach); empty = the value in '
                        'params_file'),
        DeclareLaunchArgument(
            'params_file', default_value=default_params,
            description='ROS parameters file for the octopus_agent node'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description='Logging level: debug, info, warn, error or fatal'),
        OpaqueFunction(function=_agent_node),
    ])
