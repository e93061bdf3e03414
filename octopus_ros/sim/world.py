"""The simulated home as a pybullet world (DIRECT mode: no GUI, no GL; the camera renders with pybullet's
CPU TinyRenderer).

Everything is kinematic: bodies are placed with resetBasePositionAndOrientation and the physics engine is
never stepped. pybullet provides the geometry, the camera image (RGB and a segmentation mask, used to tell
which objects the robot can see) and ray tests (walls and furniture block `move`).

    world = HomeWorld(load_layout("home"))
    world.set_robot_pose(7.5, 2.0, 0.0)
    rgb = world.render()                      # H x W x 3 uint8, from the robot's forward camera
    world.visible_objects()                   # {"mug_1": 212, ...} pixel counts
    world.snapshot()                          # WorldSnapshot: robot pose/room, held object, objects, devices
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .layout import DeviceSpec, Furniture, Layout, ObjectSpec

__all__ = ["CameraConfig", "SimObject", "SimDevice", "WorldSnapshot", "HomeWorld", "ROBOT_RADIUS"]

ROBOT_RADIUS = 0.22
GRIPPER_OFFSET = (0.32, 0.0, 0.78)   # held object position in the robot frame (x forward, z up)


@dataclass
class CameraConfig:
    width: int = 224
    height: int = 168
    fov_deg: float = 60.0           # vertical field of view
    mount_height: float = 1.0       # metres above the floor
    mount_forward: float = 0.2      # metres ahead of the robot centre
    pitch_deg: float = -25.0        # negative looks down
    near: float = 0.05
    far: float = 20.0

    def intrinsics(self) -> tuple[float, float, float, float]:
        """fx, fy, cx, cy in pixels (pinhole model matching the pybullet projection)."""
        fy = self.height / (2.0 * math.tan(math.radians(self.fov_deg) / 2.0))
        return fy, fy, (self.width - 1) / 2.0, (self.height - 1) / 2.0


@dataclass
class SimObject:
    spec: ObjectSpec
    body: int
    position: tuple[float, float, float]
    yaw: float
    half_height: float
    support: str = ""       # furniture name it stands on ("" = floor)
    held: bool = False

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class SimDevice:
    spec: DeviceSpec
    body: int
    on: bool
    level: float
    base_rgba: tuple
    extra: dict = field(default_factory=dict)   # media: playing/track; vacuum: area

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class WorldSnapshot:
    robot_x: float
    robot_y: float
    robot_yaw: float
    robot_room: str
    held_object: str
    objects: list[dict]      # {name, category, color, room, position, held, support}
    devices: list[dict]      # {name, kind, room, on, level}


class HomeWorld:
    """A home built from a Layout in a pybullet DIRECT client of its own."""

    def __init__(self, layout: Layout, camera: CameraConfig | None = None):
        import pybullet  # prints "pybullet build time: ..." to stdout (from C, at exit when piped)

        self.client = pybullet.connect(pybullet.DIRECT)
        self.p = pybullet
        self.layout = layout
        self.camera = camera or CameraConfig()
        self.version = 0          # incremented on every change that can alter the camera image
        self._build()

    # ---- construction ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.body_names: dict[int, str] = {}
        self.blocking: set[int] = set()          # bodies that stop `move` (walls, furniture)
        self.floors: dict[str, int] = {}
        for room in self.layout.rooms.values():
            x0, y0, x1, y1 = room.bounds
            body = self._box(((x0 + x1) / 2, (y0 + y1) / 2, -0.005), ((x1 - x0) / 2, (y1 - y0) / 2, 0.005),
                             room.floor, collide=False)
            self.floors[room.name] = body
            self.body_names[body] = f"{room.name} floor"
        for i, (a, b) in enumerate(self._wall_segments()):
            t = self.layout.wall_thickness / 2
            h = self.layout.wall_height
            center = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, h / 2)
            half = (abs(b[0] - a[0]) / 2 + t, abs(b[1] - a[1]) / 2 + t, h / 2)
            body = self._box(center, half, (0.93, 0.91, 0.86, 1.0), collide=True)
            self.body_names[body] = "wall"
            self.blocking.add(body)
        self.furniture_bodies: dict[str, int] = {}
        for f in self.layout.furniture.values():
            body = self._box((f.at[0], f.at[1], f.size[2] / 2), (f.size[0] / 2, f.size[1] / 2, f.size[2] / 2),
                             f.color, collide=True, yaw=math.radians(f.yaw_deg))
            self.furniture_bodies[f.name] = body
            self.body_names[body] = f.name
            self.blocking.add(body)
        for place in self.layout.places.values():
            body = self._cylinder((place.at[0], place.at[1], 0.005), 0.25, 0.01, (0.2, 0.6, 0.9, 1.0))
            self.body_names[body] = place.name
        self.objects: dict[str, SimObject] = {}
        for spec in self.layout.objects:
            self.objects[spec.name] = self._make_object(spec)
        self.devices: dict[str, SimDevice] = {}
        for spec in self.layout.devices:
            rgba = (0.35, 0.35, 0.35, 1.0)
            body = self._box(spec.at, (0.12, 0.12, 0.06), rgba, collide=False)
            self.devices[spec.name] = SimDevice(spec, body, spec.on, spec.level, rgba)
            self.body_names[body] = spec.name
        # The robot: a base cylinder and a mast with the camera head (kinematic, two bodies moved together).
        self.robot_base = self._cylinder((0, 0, 0.25), ROBOT_RADIUS, 0.5, (0.92, 0.92, 0.95, 1.0))
        self.robot_head = self._box((0, 0, 0.8), (0.06, 0.08, 0.3), (0.2, 0.2, 0.25, 1.0), collide=False)
        self.body_names[self.robot_base] = self.body_names[self.robot_head] = "robot"
        self.held: str = ""
        self.x, self.y = self.layout.robot_at
        self.yaw = math.radians(self.layout.robot_yaw_deg)
        self._place_robot()
        for name in self.devices:
            self._update_device_visual(name)
        self._update_floors()
        self.version += 1

    def _wall_segments(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """Wall segments along every room edge (shared edges once), cut at the doors."""
        eps = 1e-6
        edges: list[tuple[tuple[float, float], tuple[float, float]]] = []
        for room in self.layout.rooms.values():
            x0, y0, x1, y1 = room.bounds
            edges += [((x0, y0), (x1, y0)), ((x0, y1), (x1, y1)), ((x0, y0), (x0, y1)), ((x1, y0), (x1, y1))]
        # Split edges into unit pieces on a 0.05 m grid and keep each piece once: overlapping shared edges of
        # rooms of different sizes merge into one wall.
        pieces: set[tuple[str, float, int]] = set()
        step = 0.05
        for (ax, ay), (bx, by) in edges:
            if abs(ay - by) < eps:   # horizontal edge at y = ay
                for k in range(round(min(ax, bx) / step), round(max(ax, bx) / step)):
                    pieces.add(("h", round(ay, 3), k))
            else:
                for k in range(round(min(ay, by) / step), round(max(ay, by) / step)):
                    pieces.add(("v", round(ax, 3), k))
        for door in self.layout.doors:
            dx, dy = door.at
            half = door.width / 2
            for orient, line, k in list(pieces):
                lo, hi = k * step, (k + 1) * step
                if orient == "h" and abs(line - dy) < 1e-3 and lo >= dx - half - eps and hi <= dx + half + eps:
                    pieces.discard((orient, line, k))
                if orient == "v" and abs(line - dx) < 1e-3 and lo >= dy - half - eps and hi <= dy + half + eps:
                    pieces.discard((orient, line, k))
        # Merge consecutive pieces back into segments.
        segments = []
        for orient in ("h", "v"):
            lines: dict[float, list[int]] = {}
            for o, line, k in pieces:
                if o == orient:
                    lines.setdefault(line, []).append(k)
            for line, ks in lines.items():
                ks.sort()
                start = prev = ks[0]
                for k in ks[1:] + [None]:
                    if k is not None and k == prev + 1:
                        prev = k
                        continue
                    lo, hi = start * step, (prev + 1) * step
                    segments.append(((lo, line), (hi, line)) if orient == "h" else ((line, lo), (line, hi)))
                    if k is not None:
                        start = prev = k
        return segments

    def _box(self, center, half, rgba, collide: bool, yaw: float = 0.0) -> int:
        p, c = self.p, self.client
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=list(half), rgbaColor=list(rgba), physicsClientId=c)
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=list(half), physicsClientId=c) if collide else -1
        return p.createMultiBody(0, col, vis, list(center), p.getQuaternionFromEuler([0, 0, yaw]), physicsClientId=c)

    def _cylinder(self, center, radius, length, rgba, yaw: float = 0.0) -> int:
        p, c = self.p, self.client
        vis = p.createVisualShape(p.GEOM_CYLINDER, radius=radius, length=length, rgbaColor=list(rgba),
                                  physicsClientId=c)
        return p.createMultiBody(0, -1, vis, list(center), p.getQuaternionFromEuler([0, 0, yaw]), physicsClientId=c)

    def _make_object(self, spec: ObjectSpec) -> SimObject:
        p, c = self.p, self.client
        base_z = self.layout.furniture[spec.on].top if spec.on else 0.0
        if spec.shape == "box":
            half = spec.size[2]
            vis = p.createVisualShape(p.GEOM_BOX, halfExtents=list(spec.size), rgbaColor=list(spec.rgba),
                                      physicsClientId=c)
        elif spec.shape == "cylinder":
            half = spec.size[1] / 2
            vis = p.createVisualShape(p.GEOM_CYLINDER, radius=spec.size[0], length=spec.size[1],
                                      rgbaColor=list(spec.rgba), physicsClientId=c)
        elif spec.shape == "sphere":
            half = spec.size[0]
            vis = p.createVisualShape(p.GEOM_SPHERE, radius=spec.size[0], rgbaColor=list(spec.rgba),
                                      physicsClientId=c)
        else:
            vis = None
            half = spec.size[0] if spec.size else 0.05
        yaw = math.radians(spec.yaw_deg)
        position = (spec.at[0], spec.at[1], base_z + half)
        if vis is not None:
            body = p.createMultiBody(0, -1, vis, list(position), p.getQuaternionFromEuler([0, 0, yaw]),
                                     physicsClientId=c)
        else:
            import pybullet_data

            urdf = Path(pybullet_data.getDataPath()) / spec.urdf
            body = p.loadURDF(str(urdf), list(position), p.getQuaternionFromEuler([math.pi / 2, 0, yaw]),
                              globalScaling=spec.scale, useFixedBase=True, physicsClientId=c)
            p.changeVisualShape(body, -1, rgbaColor=list(spec.rgba), physicsClientId=c)
            for j in range(p.getNumJoints(body, physicsClientId=c)):
                p.changeVisualShape(body, j, rgbaColor=list(spec.rgba), physicsClientId=c)
            # Objects never block the robot's rays (only walls and furniture do).
            p.setCollisionFilterGroupMask(body, -1, 0, 0, physicsClientId=c)
        self.body_names[body] = spec.name
        return SimObject(spec, body, position, yaw, half, support=spec.on)

    # ---- queries ----------------------------------------------------------------------------------
    @property
    def robot_room(self) -> str:
        return self.layout.room_at(self.x, self.y)

    def object_room(self, obj: SimObject) -> str:
        return "" if obj.held else self.layout.room_at(obj.position[0], obj.position[1])

    def is_free(self, x: float, y: float, room: str | None = None, margin: float = ROBOT_RADIUS + 0.08) -> bool:
        """True when the robot fits at (x, y): inside a room (``room`` if given), clear of walls and furniture."""
        rooms = [self.layout.rooms[room]] if room else list(self.layout.rooms.values())
        if not any(r.contains(x, y, margin) for r in rooms):
            return False
        return not any(f.covers(x, y, margin) for f in self.layout.furniture.values())

    def clearance(self, heading: float, distance: float) -> tuple[float, str]:
        """How far the robot can slide from its pose in world direction ``heading`` (radians) before a wall or
        furniture, up to ``distance``; and the name of what blocks it ("" when nothing does)."""
        p, c = self.p, self.client
        dx, dy = math.cos(heading), math.sin(heading)
        nx, ny = -dy, dx
        starts, ends = [], []
        for lateral in (-ROBOT_RADIUS, 0.0, ROBOT_RADIUS):
            for z in (0.1, 0.45):
                sx, sy = self.x + nx * lateral, self.y + ny * lateral
                starts.append([sx, sy, z])
                ends.append([sx + dx * (distance + ROBOT_RADIUS), sy + dy * (distance + ROBOT_RADIUS), z])
        best, blocker = distance, ""
        for hit, start, end in zip(p.rayTestBatch(starts, ends, physicsClientId=c), starts, ends):
            body, fraction = hit[0], hit[2]
            if body in self.blocking:
                free = fraction * (distance + ROBOT_RADIUS) - ROBOT_RADIUS - 0.03
                if free < best:
                    best, blocker = max(0.0, free), self.body_names.get(body, "an obstacle")
        return best, blocker

    def camera_pose(self) -> tuple[list[float], list[float]]:
        cam = self.camera
        ex = self.x + cam.mount_forward * math.cos(self.yaw)
        ey = self.y + cam.mount_forward * math.sin(self.yaw)
        pitch = math.radians(cam.pitch_deg)
        eye = [ex, ey, cam.mount_height]
        target = [ex + math.cos(self.yaw) * math.cos(pitch), ey + math.sin(self.yaw) * math.cos(pitch),
                  cam.mount_height + math.sin(pitch)]
        return eye, target

    def _camera_image(self, width: int, height: int, segmentation: bool):
        p, c, cam = self.p, self.client, self.camera
        eye, target = self.camera_pose()
        pitch = math.radians(cam.pitch_deg)
        up = [-math.cos(self.yaw) * math.sin(pitch), -math.sin(self.yaw) * math.sin(pitch), math.cos(pitch)]
        view = p.computeViewMatrix(eye, target, up, physicsClientId=c)
        proj = p.computeProjectionMatrixFOV(cam.fov_deg, width / height, cam.near, cam.far, physicsClientId=c)
        flags = 0 if segmentation else p.ER_NO_SEGMENTATION_MASK
        return p.getCameraImage(width, height, view, proj, shadow=0, lightDirection=[2.0, 1.0, 6.0],
                                renderer=p.ER_TINY_RENDERER, flags=flags, physicsClientId=c)

    def render(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """The robot's forward camera image, H x W x 3 uint8 RGB."""
        w, h = width or self.camera.width, height or self.camera.height
        _, _, rgba, _, _ = self._camera_image(w, h, segmentation=False)
        return np.ascontiguousarray(np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[:, :, :3])

    def visible_objects(self, width: int = 96, height: int = 72, min_pixels: int = 2) -> dict[str, int]:
        """Objects in the camera's view (not hidden behind walls or furniture): name -> pixel count."""
        _, _, _, _, seg = self._camera_image(width, height, segmentation=True)
        ids, counts = np.unique(np.asarray(seg).reshape(-1), return_counts=True)
        by_body = {o.body: o.name for o in self.objects.values() if not o.held}
        return {by_body[int(i)]: int(n) for i, n in zip(ids, counts) if int(i) in by_body and n >= min_pixels}

    def snapshot(self) -> WorldSnapshot:
        objects = [{"name": o.name, "category": o.spec.category, "color": o.spec.color, "room": self.object_room(o),
                    "position": tuple(o.position), "held": o.held, "support": "" if o.held else o.support}
                   for o in self.objects.values()]
        devices = [{"name": d.name, "kind": d.spec.kind, "room": d.spec.room, "on": d.on, "level": d.level}
                   for d in self.devices.values()]
        return WorldSnapshot(self.x, self.y, self.yaw, self.robot_room, self.held, objects, devices)

    # ---- changes ----------------------------------------------------------------------------------
    def set_robot_pose(self, x: float, y: float, yaw: float) -> None:
        self.x, self.y = float(x), float(y)
        self.yaw = math.atan2(math.sin(yaw), math.cos(yaw))
        self._place_robot()
        self.version += 1

    def _place_robot(self) -> None:
        p, c = self.p, self.client
        q = p.getQuaternionFromEuler([0, 0, self.yaw])
        p.resetBasePositionAndOrientation(self.robot_base, [self.x, self.y, 0.25], q, physicsClientId=c)
        hx = self.x + 0.08 * math.cos(self.yaw)
        hy = self.y + 0.08 * math.sin(self.yaw)
        p.resetBasePositionAndOrientation(self.robot_head, [hx, hy, 0.8], q, physicsClientId=c)
        if self.held:
            gx, _, gz = GRIPPER_OFFSET
            obj = self.objects[self.held]
            self._move_object(obj, (self.x + gx * math.cos(self.yaw), self.y + gx * math.sin(self.yaw), gz), self.yaw)

    def _move_object(self, obj: SimObject, position, yaw: float) -> None:
        p = self.p
        roll = math.pi / 2 if obj.spec.shape == "urdf" else 0.0
        p.resetBasePositionAndOrientation(obj.body, list(position), p.getQuaternionFromEuler([roll, 0, yaw]),
                                          physicsClientId=self.client)
        obj.position, obj.yaw = tuple(float(v) for v in position), yaw

    def attach(self, name: str) -> None:
        obj = self.objects[name]
        obj.held, obj.support = True, ""
        self.held = name
        self._place_robot()
        self.version += 1

    def put(self, x: float, y: float, support: str = "") -> None:
        """Put the held object down at (x, y) on ``support`` (a furniture name) or on the floor."""
        obj = self.objects[self.held]
        z = (self.layout.furniture[support].top if support else 0.0) + obj.half_height
        obj.held, obj.support = False, support
        self._move_object(obj, (x, y, z), self.yaw)
        self.held = ""
        self.version += 1

    def set_device(self, name: str, on: bool | None = None, level: float | None = None, **extra) -> None:
        dev = self.devices[name]
        if on is not None:
            dev.on = bool(on)
        if level is not None:
            dev.level = float(level)
        dev.extra.update(extra)
        self._update_device_visual(name)
        self._update_floors()
        self.version += 1

    def _update_device_visual(self, name: str) -> None:
        dev = self.devices[name]
        info = self.layout.vocabulary.device_kinds.get(dev.spec.kind, {})
        if not dev.on:
            rgba = (0.3, 0.3, 0.32, 1.0)
        elif info.get("dimmable"):
            k = max(0.0, min(1.0, dev.level / 100.0))
            rgba = (0.5 + 0.5 * k, 0.45 + 0.5 * k, 0.2 + 0.3 * k, 1.0)
        elif info.get("media"):
            rgba = (0.3, 0.6, 1.0, 1.0)
        else:
            rgba = (0.2, 0.9, 0.3, 1.0)
        self.p.changeVisualShape(dev.body, -1, rgbaColor=list(rgba), physicsClientId=self.client)

    def _update_floors(self) -> None:
        """A room's floor is brighter while its lights are on (so the camera image shows the light state)."""
        dimmable = set(self.layout.vocabulary.kinds_with("dimmable"))
        for room in self.layout.rooms.values():
            levels = [d.level for d in self.devices.values()
                      if d.spec.room == room.name and d.spec.kind in dimmable and d.on]
            k = 0.55 + 0.45 * (max(levels) / 100.0 if levels else 0.0)
            rgba = [min(1.0, v * k) for v in room.floor[:3]] + [1.0]
            self.p.changeVisualShape(self.floors[room.name], -1, rgbaColor=rgba, physicsClientId=self.client)

    def reset(self) -> None:
        """Back to the layout's initial state."""
        self.p.resetSimulation(physicsClientId=self.client)
        self._build()

    def close(self) -> None:
        try:
            self.p.disconnect(physicsClientId=self.client)
        except Exception:  # noqa: BLE001 - already disconnected
            pass

    def furniture_at(self, name: str) -> Furniture:
        return self.layout.furniture[name]
