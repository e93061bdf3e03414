"""The rclpy adapter of octopus_ros: the agent node and its ROS-free helpers (frame cache, request queue).

Importing this package does not import rclpy or torch; ``agent_node`` imports rclpy.
"""
