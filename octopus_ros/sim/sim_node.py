"""The `octopus_sim` node: the simulated home (pybullet, DIRECT) and its controller in one process.

    sim_node --ros-args --params-file config/sim.yaml -p layout:=studio -p camera_rate_hz:=30.0

Publishes
  camera_topic       sensor_msgs/Image (rgb8) from the robot's forward camera, at camera_rate_hz
  camera_info_topic  sensor_msgs/CameraInfo (pinhole, no distortion), with every image
  world_state_topic  octopus_ros/WorldState (reliable, transient local depth 1): at world_state_rate_hz,
                     and after every change an action made (before that action's ExecutionResult)
  execution_topic    octopus_ros/ExecutionResult (reliable): one per FunctionCall received
Subscribes
  action_topic       octopus_ros/FunctionCall (reliable): executed by HomeController
Services
  reset_service      std_srvs/Trigger: the layout's initial state again (scenario runner, between scenarios)

Why one process: the pybullet world lives in this process's memory (a DIRECT client cannot be shared), and
the controller changes it many times per action (every motion tick). A controller in another process would
need a service call per change and would see a copy of the state. The controller is still a separate,
ROS-free class (controller.py) with its own unit tests; this node is the thin adapter between it and DDS,
and it listens to the same /octopus/action topic a real robot's controller would.

Threading: one single-threaded executor; the camera timer renders (TinyRenderer, ~10 ms for 160x120,
~20-40 ms for 320x240 on a busy 2-core CPU), the control timer advances motion, the action callback starts
tasks. When nothing changed since the last frame the previous image is republished with a new stamp
(rerender_static:=true renders every frame anyway).
"""
from __future__ import annotations

import json
import sys
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from octopus_ros.node.runtime import ParamSpec, declare_parameters, spin_until_shutdown

NODE_NAME = "octopus_sim"
_T = Parameter.Type


PARAMS = (
    ParamSpec("layout", "home", _T.STRING, "Layout: a name in config/sim/ (home, studio) or a path to a layout YAML."),
    ParamSpec("camera_topic", "/camera/image_raw", _T.STRING, "sensor_msgs/Image topic of the robot's forward camera."),
    ParamSpec("camera_info_topic", "/camera/camera_info", _T.STRING, "sensor_msgs/CameraInfo topic."),
    ParamSpec("camera_frame_id", "sim_camera", _T.STRING, "header.frame_id of the camera messages."),
    ParamSpec("camera_rate_hz", 10.0, _T.DOUBLE, "Camera frames per second (0 = no camera)."),
    ParamSpec("camera_width", 224, _T.INTEGER, "Image width in pixels."),
    ParamSpec("camera_height", 168, _T.INTEGER, "Image height in pixels."),
    ParamSpec("camera_fov_deg", 60.0, _T.DOUBLE, "Vertical field of view in degrees."),
    ParamSpec("camera_reliable", False, _T.BOOL,
              "Publish the camera with reliable QoS (default: sensor-data, best effort)."),
    ParamSpec("rerender_static", False, _T.BOOL, "Render every frame even when nothing in view changed."),
    ParamSpec("world_state_topic", "/sim/world_state", _T.STRING, "octopus_ros/WorldState topic."),
    ParamSpec("world_state_rate_hz", 2.0, _T.DOUBLE,
              "Periodic WorldState messages per second (0 = only after changes)."),
    ParamSpec("action_topic", "/octopus/action", _T.STRING, "octopus_ros/FunctionCall topic to execute."),
    ParamSpec("execution_topic", "/octopus/execution", _T.STRING, "octopus_ros/ExecutionResult topic."),
    ParamSpec("reset_service", "/sim/reset", _T.STRING, "std_srvs/Trigger service that resets the world."),
    ParamSpec("control_rate_hz", 30.0, _T.DOUBLE, "Motion updates per second."),
    ParamSpec("linear_speed", 1.0, _T.DOUBLE, "Robot speed in m/s (0 = actions complete at once)."),
    ParamSpec("angular_speed_deg", 120.0, _T.DOUBLE, "Robot turn rate in degrees/s (0 = turns complete at once)."),
    ParamSpec("photo_dir", "", _T.STRING, "Folder where take_photo saves PNGs (\"\" = do not save)."),
)


class SimNode(Node):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        from sensor_msgs.msg import CameraInfo, Image
        from std_srvs.srv import Trigger

        from octopus_ros.msg import ExecutionResult, FunctionCall, WorldState

        from .controller import HomeController
        from .layout import load_layout
        from .world import CameraConfig, HomeWorld

        self.p = p = declare_parameters(self, PARAMS)
        camera = CameraConfig(width=int(p["camera_width"]), height=int(p["camera_height"]),
                              fov_deg=float(p["camera_fov_deg"]))
        self.layout = load_layout(p["layout"])
        self.world = HomeWorld(self.layout, camera)
        self.controller = HomeController(self.world, float(p["linear_speed"]), float(p["angular_speed_deg"]),
                                         p["photo_dir"])
        self._Image, self._CameraInfo = Image, CameraInfo
        self._WorldState, self._ExecutionResult = WorldState, ExecutionResult

        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        cam_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE) if p["camera_reliable"] \
            else qos_profile_sensor_data
        self.image_pub = self.create_publisher(Image, p["camera_topic"], cam_qos)
        self.info_pub = self.create_publisher(CameraInfo, p["camera_info_topic"], cam_qos)
        self.state_pub = self.create_publisher(WorldState, p["world_state_topic"], latched)
        self.result_pub = self.create_publisher(ExecutionResult, p["execution_topic"], reliable)
        self.create_subscription(FunctionCall, p["action_topic"], self._on_call, reliable)
        self.create_service(Trigger, p["reset_service"], self._on_reset)

        self._frame = None
        self._frame_version = -1
        self.frames_published = 0
        self.render_ms: list[float] = []
        if float(p["camera_rate_hz"]) > 0:
            self.create_timer(1.0 / float(p["camera_rate_hz"]), self._on_camera)
        self._last_tick = time.monotonic()
        self.create_timer(1.0 / max(1.0, float(p["control_rate_hz"])), self._on_tick)
        if float(p["world_state_rate_hz"]) > 0:
            self.create_timer(1.0 / float(p["world_state_rate_hz"]), self.publish_world_state)
        self.publish_world_state()
        self.get_logger().info(
            f"octopus sim up: layout {self.layout.name!r} ({len(self.layout.rooms)} rooms, "
            f"{len(self.world.objects)} objects, {len(self.world.devices)} devices); camera "
            f"{camera.width}x{camera.height} at {p['camera_rate_hz']} Hz on {p['camera_topic']}; actions from "
            f"{p['action_topic']}")

    # ---- camera -------------------------------------------------------------------------------------
    def _on_camera(self) -> None:
        if self.image_pub.get_subscription_count() == 0 and self.info_pub.get_subscription_count() == 0:
            return
        from octopus_ros.images import rgb_to_image_msg

        if self._frame is None or self.p["rerender_static"] or self._frame_version != self.world.version:
            t0 = time.perf_counter()
            self._frame_version = self.world.version
            self._frame = self.world.render()
            self.render_ms.append((time.perf_counter() - t0) * 1000)
            del self.render_ms[:-100]
        stamp = self.get_clock().now().to_msg()
        msg = rgb_to_image_msg(self._frame, "rgb8", frame_id=self.p["camera_frame_id"], stamp=stamp)
        self.image_pub.publish(msg)
        self.info_pub.publish(self._camera_info(stamp))
        self.frames_published += 1

    def _camera_info(self, stamp):
        cam = self.world.camera
        fx, fy, cx, cy = cam.intrinsics()
        info = self._CameraInfo()
        info.header.stamp = stamp
        info.header.frame_id = self.p["camera_frame_id"]
        info.width, info.height = cam.width, cam.height
        info.distortion_model = "plumb_bob"
        info.d = [0.0] * 5
        info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    # ---- actions ------------------------------------------------------------------------------------
    def _on_call(self, msg) -> None:
        try:
            arguments = json.loads(msg.arguments_json or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self._publish_results([_result(msg.request_id, msg.function_name, False,
                                           f"arguments_json is not a JSON object: {exc}")])
            return
        self.get_logger().info(f"execute {msg.request_id}: {msg.function_name} {msg.arguments_json}")
        try:
            results = self.controller.handle(msg.request_id, msg.function_name, arguments)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the sim; report it on the call
            self.get_logger().error(f"{msg.function_name} failed: {type(exc).__name__}: {exc}")
            results = [_result(msg.request_id, msg.function_name, False, f"internal error: {exc}")]
        self._publish_results(results)

    def _on_tick(self) -> None:
        now = time.monotonic()
        dt, self._last_tick = now - self._last_tick, now
        if self.controller.busy:
            self._publish_results(self.controller.tick(dt))

    def _publish_results(self, results) -> None:
        if not results:
            return
        stamp = self.get_clock().now().to_msg()
        self.publish_world_state(stamp)   # the state the results describe, before the results
        for r in results:
            msg = self._ExecutionResult()
            msg.header.stamp = stamp
            msg.header.frame_id = "world"
            msg.request_id, msg.function_name = r.request_id, r.function_name
            msg.success, msg.message = bool(r.success), r.message
            self.result_pub.publish(msg)
            self.get_logger().info(f"result {r.request_id}: {r.function_name} "
                                   f"{'succeeded' if r.success else 'FAILED'}: {r.message}")

    def _on_reset(self, request, response):
        self.controller.reset()
        self._frame = None
        self.publish_world_state()
        response.success, response.message = True, f"layout {self.layout.name!r} reset"
        return response

    # ---- world state --------------------------------------------------------------------------------
    def publish_world_state(self, stamp=None) -> None:
        from geometry_msgs.msg import Point

        from octopus_ros.msg import DeviceState, ObjectState

        snap = self.world.snapshot()
        msg = self._WorldState()
        msg.header.stamp = stamp or self.get_clock().now().to_msg()
        msg.header.frame_id = "world"
        msg.robot_pose.x, msg.robot_pose.y, msg.robot_pose.theta = snap.robot_x, snap.robot_y, snap.robot_yaw
        msg.robot_room = snap.robot_room
        msg.held_object = snap.held_object
        msg.objects = [ObjectState(name=o["name"], category=o["category"], room=o["room"], held=o["held"],
                                   position=Point(x=o["position"][0], y=o["position"][1], z=o["position"][2]))
                       for o in snap.objects]
        msg.devices = [DeviceState(name=d["name"], kind=d["kind"], room=d["room"], on=d["on"],
                                   level=float(d["level"])) for d in snap.devices]
        self.state_pub.publish(msg)

    def close(self) -> None:
        self.world.close()


def _result(request_id, function_name, success, message):
    from .controller import Execution

    return Execution(request_id, function_name, success, message)


def _close(node: SimNode) -> bool:
    if rclpy.ok():
        node.get_logger().info(f"shutting down ({node.frames_published} camera frames published)")
    node.close()
    node.destroy_node()
    return False


def main(args: list[str] | None = None) -> int:
    """Entry point of the `sim_node` executable (``args`` defaults to sys.argv, with --ros-args)."""
    return spin_until_shutdown("octopus sim node", SimNode, SingleThreadedExecutor, _close, args=args)


if __name__ == "__main__":
    sys.exit(main())
