"""Executes FunctionCalls in the simulated home: robot motion (kinematic), grasping, and home devices.

No ROS here: :class:`HomeController` takes (request_id, function name, arguments dict) and returns
:class:`Execution` results; the sim node (sim_node.py) feeds it FunctionCall messages and publishes the
results as ExecutionResult. Which behaviour a function triggers, and which of its arguments play which
role, comes from config/sim/vocabulary.yaml (`functions:`), so renamed functions only need a config edit.

Robot actions become a *task*: a list of motion steps (rotate, drive, slide) followed by a finish check
(e.g. pick_up: is the object within reach and visible in the camera image?). ``tick(dt)`` advances the
task at ``linear_speed`` m/s and ``angular_speed`` deg/s; with speed 0 a task completes at once, inside
``handle``. A new robot action interrupts the running one (reported as failed: "interrupted by ...");
``stop`` cancels it. Home-device actions complete at once and never interrupt motion.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import names
from .layout import Furniture, Layout
from .world import HomeWorld, SimDevice, SimObject

__all__ = ["Execution", "HomeController", "ROBOT_BEHAVIORS"]

ROBOT_BEHAVIORS = {"navigate", "move", "turn", "stop", "pick_up", "place", "find_object"}
REACH_M = 1.25          # largest horizontal distance robot centre -> object for pick_up
DIRECTIONS = {"forward": 0.0, "backward": math.pi, "left": math.pi / 2, "right": -math.pi / 2}


@dataclass
class Execution:
    """The result of one FunctionCall."""
    request_id: str
    function_name: str
    success: bool
    message: str
    duration_s: float = 0.0


@dataclass
class _Task:
    request_id: str
    function_name: str
    steps: list                         # [("rotate", yaw) | ("drive", x, y) | ("slide", x, y)]
    finish: Callable[[], tuple[bool, str]]
    started: float = field(default_factory=time.monotonic)


class _Fail(Exception):
    """Raised inside a behaviour: the call fails with this message."""


def _angle_diff(a: float, b: float) -> float:
    return math.atan2(math.sin(a - b), math.cos(a - b))


class HomeController:
    def __init__(self, world: HomeWorld, linear_speed: float = 1.0, angular_speed_deg: float = 120.0,
                 photo_dir: str | Path = ""):
        self.world = world
        self.layout: Layout = world.layout
        self.vocab = world.layout.vocabulary
        self.linear_speed = float(linear_speed)
        self.angular_speed = math.radians(float(angular_speed_deg))
        self.photo_dir = Path(photo_dir) if photo_dir else None
        self.task: _Task | None = None
        self._photos = 0

    # ---- entry points -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.task is not None

    def handle(self, request_id: str, function_name: str, arguments: dict[str, Any]) -> list[Execution]:
        """Start executing a call. Returns the results that are final now: this call's (when it completes at
        once, or fails) and an interrupted task's."""
        entry = self.vocab.functions.get(function_name)
        if entry is None or not entry.get("behavior"):
            return [Execution(request_id, function_name, False,
                              f"{function_name} cannot be executed in the simulated home "
                              "(no behaviour in config/sim/vocabulary.yaml)")]
        behavior = str(entry["behavior"])
        roles = {role: arguments.get(arg) for role, arg in (entry.get("args") or {}).items()}
        method = getattr(self, f"_do_{behavior}", None)
        if method is None:
            return [Execution(request_id, function_name, False, f"unknown sim behaviour {behavior!r}")]
        out: list[Execution] = []
        if behavior in ROBOT_BEHAVIORS and self.task is not None:
            old = self.task
            self.task = None
            why = "stopped" if behavior == "stop" else "interrupted"
            out.append(Execution(old.request_id, old.function_name, False,
                                 f"{why} by {function_name} ({request_id}) at {self._where()}",
                                 time.monotonic() - old.started))
        try:
            result = method(request_id, function_name, **roles)
        except _Fail as exc:
            out.append(Execution(request_id, function_name, False, str(exc)))
            return out
        if isinstance(result, _Task):
            self.task = result
            if self.linear_speed <= 0 and self.angular_speed <= 0:
                out += self.tick(0.0)
            elif not result.steps:
                out += self.tick(0.0)
        else:
            ok, message = result
            out.append(Execution(request_id, function_name, ok, message))
        return out

    def tick(self, dt: float) -> list[Execution]:
        """Advance the running task by ``dt`` seconds; returns its result when it finishes."""
        task = self.task
        if task is None:
            return []
        budget_lin = math.inf if self.linear_speed <= 0 else self.linear_speed * dt
        budget_ang = math.inf if self.angular_speed <= 0 else self.angular_speed * dt
        w = self.world
        while task.steps:
            step = task.steps[0]
            if step[0] == "rotate":
                diff = _angle_diff(step[1], w.yaw)
                if abs(diff) <= budget_ang:
                    w.set_robot_pose(w.x, w.y, step[1])
                    budget_ang -= abs(diff)
                    task.steps.pop(0)
                    continue
                w.set_robot_pose(w.x, w.y, w.yaw + math.copysign(budget_ang, diff))
                return []
            # drive / slide: straight line to (x, y); drive first turns to face the line.
            x, y = step[1], step[2]
            dist = math.hypot(x - w.x, y - w.y)
            if step[0] == "drive" and dist > 1e-6:
                heading = math.atan2(y - w.y, x - w.x)
                if abs(_angle_diff(heading, w.yaw)) > 1e-3:
                    task.steps.insert(0, ("rotate", heading))
                    continue
            if dist <= budget_lin:
                w.set_robot_pose(x, y, w.yaw)
                budget_lin -= dist
                task.steps.pop(0)
                continue
            k = budget_lin / dist
            w.set_robot_pose(w.x + (x - w.x) * k, w.y + (y - w.y) * k, w.yaw)
            return []
        self.task = None
        try:
            ok, message = task.finish()
        except _Fail as exc:
            ok, message = False, str(exc)
        return [Execution(task.request_id, task.function_name, ok, message, time.monotonic() - task.started)]

    def reset(self) -> None:
        self.task = None
        self.world.reset()

    # ---- name resolution --------------------------------------------------------------------------
    def _text(self, value: Any) -> str:
        return names.strip_stopwords("" if value is None else str(value), self.vocab.stopwords)

    def _is_pronoun(self, value: Any) -> bool:
        text = names.normalize("" if value is None else str(value))
        return text in [names.normalize(p) for p in self.vocab.pronouns]

    def resolve_room(self, value: Any) -> tuple[str, str]:
        """(room, rest of the words) for an `area`/`location` value."""
        return names.split_room_words(self._text(value), {r: self.vocab.room_aliases(r) for r in self.layout.rooms})

    def resolve_furniture(self, value: Any) -> list[Furniture]:
        """Furniture named by ``value`` ("the kitchen table", "桌子"), nearest room first."""
        room, rest = self.resolve_room(value)
        found = names.best_match(rest or self._text(value), self.vocab.furniture)
        exact = [f for f in self.layout.furniture.values() if names.normalize(f.name) == names.normalize(self._text(value))]
        if exact:
            return exact
        if not found:
            return []
        items = [f for f in self.layout.furniture.values() if f.kind == found[0] and (not room or f.room == room)]
        return sorted(items, key=lambda f: self._travel_cost(f.room, f.at))

    def resolve_objects(self, value: Any) -> list[SimObject]:
        """Objects a value names ("red mug", "杯子", "mug_2"), best candidates first (the held one, visible
        ones, then by travel distance). A colour word, when given, must match."""
        text = self._text(value)
        exact = [o for o in self.world.objects.values() if names.normalize(o.name) == names.normalize(text)]
        if exact:
            return exact
        found = names.best_match(text, {k: v.get("aliases", []) for k, v in self.vocab.objects.items()})
        if not found:
            return []
        color = names.best_match(text, {k: v.get("aliases", []) for k, v in self.vocab.colors.items()})
        # "orange" is a colour and a fruit: a colour word that is the matched object word is no colour.
        if color and names.normalize(color[1]) == names.normalize(found[1]):
            color = None
        room, _ = self.resolve_room(text)
        items = [o for o in self.world.objects.values() if o.spec.category == found[0]
                 and (color is None or o.spec.color == color[0])
                 and (not room or self.world.object_room(o) in ("", room))]
        visible = self.world.visible_objects() if items else {}
        return sorted(items, key=lambda o: (not o.held, o.name not in visible,
                                            self._travel_cost(self.world.object_room(o), o.position[:2])))

    def resolve_devices(self, device: Any, area: Any, kinds: list[str] | None = None) -> list[SimDevice]:
        """Devices named by (device, area). Empty area: the matching devices in the robot's room, else in the
        whole home. ``kinds`` limits the kinds (e.g. dimmable ones for set_brightness)."""
        area_room, _ = self.resolve_room(area) if area else ("", "")
        if area and not area_room:
            raise _Fail(f"no room called {area!r} in this home (rooms: {', '.join(self.layout.rooms)})")
        dev_text = self._text(device)
        room_in_device, rest = self.resolve_room(dev_text) if dev_text else ("", "")
        area_room = area_room or room_in_device
        dev_text = rest if room_in_device else dev_text
        exact = [d for d in self.world.devices.values() if names.normalize(d.name) == names.normalize(dev_text)]
        if exact:
            return exact
        wanted: set[str] = set(kinds or self.vocab.device_kinds)
        if dev_text:
            table = {str(i): w.get("aliases", []) for i, w in enumerate(self.vocab.device_words)}
            found = names.best_match(dev_text, table)
            if not found:
                raise _Fail(f"no device called {device!r} in this home")
            wanted &= set(self.vocab.device_words[int(found[0])].get("kinds", []))
        matching = [d for d in self.world.devices.values() if d.spec.kind in wanted]
        if area_room:
            return [d for d in matching if d.spec.room == area_room]
        here = [d for d in matching if d.spec.room == self.world.robot_room]
        return here or matching

    # ---- geometry helpers -------------------------------------------------------------------------
    def _where(self) -> str:
        w = self.world
        return f"({w.x:.2f}, {w.y:.2f}) in {w.robot_room or 'no room'}"

    def _travel_cost(self, room: str, xy) -> float:
        w = self.world
        path = self.layout.room_path(w.robot_room, room) if room else None
        doors = (len(path) - 1) if path else 10
        return doors * 100.0 + math.hypot(xy[0] - w.x, xy[1] - w.y)

    def _door_points(self, a: str, b: str) -> list[tuple[float, float]]:
        """Waypoints through the door from room a into room b: 0.45 m before it, in it, 0.45 m after it."""
        door = self.layout.door_between(a, b)
        assert door is not None
        ra = self.layout.rooms[a]
        x0, y0, x1, y1 = ra.bounds
        dx, dy = door.at
        if abs(dx - x0) < 1e-3:
            n = (1.0, 0.0)
        elif abs(dx - x1) < 1e-3:
            n = (-1.0, 0.0)
        elif abs(dy - y0) < 1e-3:
            n = (0.0, 1.0)
        else:
            n = (0.0, -1.0)
        d = 0.45
        return [(dx + n[0] * d, dy + n[1] * d), (dx, dy), (dx - n[0] * d, dy - n[1] * d)]

    def _path_to(self, room: str, x: float, y: float) -> list[tuple]:
        """Drive steps from the robot's pose to (x, y) in ``room``, through the doors."""
        start = self.world.robot_room
        if not start:
            raise _Fail(f"the robot is outside every room at {self._where()}")
        rooms = self.layout.room_path(start, room)
        if rooms is None:
            raise _Fail(f"no way from {start} to {room} (no door path)")
        steps: list[tuple] = []
        for a, b in zip(rooms, rooms[1:]):
            steps += [("drive", px, py) for px, py in self._door_points(a, b)]
        steps.append(("drive", x, y))
        return steps

    def _approach(self, target_xy, room: str, radii=(0.6, 0.75, 0.9, 1.05, 1.2)) -> tuple[float, float, float]:
        """A free robot pose near ``target_xy`` in ``room`` facing it: (x, y, yaw). Nearest to the robot first
        (or, in another room, to the door it enters through)."""
        w = self.world
        tx, ty = target_xy
        ref = (w.x, w.y)
        if room != w.robot_room:
            path = self.layout.room_path(w.robot_room, room) or []
            if len(path) >= 2:
                ref = self.layout.door_between(path[-2], path[-1]).at
        best = None
        for r in radii:
            for k in range(24):
                a = 2 * math.pi * k / 24
                x, y = tx + r * math.cos(a), ty + r * math.sin(a)
                if not w.is_free(x, y, room):
                    continue
                cost = math.hypot(x - ref[0], y - ref[1]) + 2.0 * r
                if best is None or cost < best[0]:
                    best = (cost, x, y)
            if best is not None and r >= radii[1]:
                break
        if best is None:
            raise _Fail(f"no free spot for the robot near ({tx:.2f}, {ty:.2f}) in {room}")
        _, x, y = best
        return x, y, math.atan2(ty - y, tx - x)

    def _go_and_face(self, room: str, target_xy) -> list[tuple]:
        x, y, yaw = self._approach(target_xy, room)
        return self._path_to(room, x, y) + [("rotate", yaw)]

    # ---- robot behaviours -------------------------------------------------------------------------
    def _do_navigate(self, rid, fn, location=None):
        text = self._text(location)
        if not text:
            raise _Fail("navigate_to needs a location")
        room, rest = self.resolve_room(text)
        place = names.best_match(rest or text, self.vocab.places)
        furniture = self.resolve_furniture(text) if rest or not room else []
        if place and not furniture:
            candidates = [p for p in self.layout.places.values() if p.kind == place[0] and (not room or p.room == room)]
            if not candidates:
                raise _Fail(f"there is no {place[1]} in this home")
            target = candidates[0]
            steps = self._path_to(target.room, *target.at) + [("rotate", math.radians(target.yaw_deg))]
            return _Task(rid, fn, steps, lambda: (True, f"at the {target.name.replace('_', ' ')} in {target.room}"))
        if furniture:
            f = furniture[0]
            steps = self._go_and_face(f.room, f.at)
            return _Task(rid, fn, steps, lambda: (True, f"at the {f.name.replace('_', ' ')} in {f.room}"))
        if room:
            goal = self.layout.rooms[room].nav
            steps = self._path_to(room, *goal)

            def done():
                ok = self.world.robot_room == room
                return ok, f"in the {room.replace('_', ' ')}" if ok else f"ended in {self.world.robot_room}"
            return _Task(rid, fn, steps, done)
        raise _Fail(f"unknown location {location!r} (rooms: {', '.join(self.layout.rooms)}; "
                    f"places: {', '.join(self.layout.places)}; furniture: {', '.join(self.layout.furniture)})")

    def _do_move(self, rid, fn, direction=None, distance=None):
        if direction not in DIRECTIONS:
            raise _Fail(f"unknown direction {direction!r} (one of {', '.join(DIRECTIONS)})")
        distance = 1.0 if distance is None else float(distance)
        if distance < 0:
            raise _Fail("distance must not be negative")
        w = self.world
        heading = w.yaw + DIRECTIONS[direction]
        free, blocker = w.clearance(heading, distance)
        x, y = w.x + free * math.cos(heading), w.y + free * math.sin(heading)

        def done():
            if free + 1e-6 >= distance:
                return True, f"moved {direction} {distance:g} m to {self._where()}"
            return False, f"blocked by {blocker} after {free:.2f} of {distance:g} m; now at {self._where()}"
        return _Task(rid, fn, [("slide", x, y)], done)

    def _do_turn(self, rid, fn, angle_deg=None):
        if angle_deg is None:
            raise _Fail("turn needs angle_deg")
        angle = math.radians(float(angle_deg))
        w = self.world
        steps, left, goal = [], angle, w.yaw + angle
        # rotate in <= 90 degree steps so that 180 and 360 keep their direction
        while abs(left) > 1e-9:
            part = math.copysign(min(abs(left), math.pi / 2), left)
            left -= part
            steps.append(("rotate", goal - left))
        return _Task(rid, fn, steps, lambda: (True, f"turned {float(angle_deg):g} degrees; heading "
                                                    f"{math.degrees(self.world.yaw):.0f} degrees"))

    def _do_stop(self, rid, fn):
        return True, f"stopped at {self._where()}"

    def _do_pick_up(self, rid, fn, object=None):  # noqa: A002 - the argument's name
        w = self.world
        if w.held:
            raise _Fail(f"already holding {w.held}; place it first")
        candidates = self.resolve_objects(object) if self._text(object) else []
        if not candidates and self._is_pronoun(object):
            visible = w.visible_objects()
            candidates = sorted((w.objects[n] for n in visible), key=lambda o: -visible[o.name])
        if not candidates:
            raise _Fail(f"no {object!r} in this home" if self._text(object) else "pick_up needs an object")
        here = [o for o in candidates if w.object_room(o) == w.robot_room]
        if not here:
            o = candidates[0]
            raise _Fail(f"{o.name} is in the {w.object_room(o).replace('_', ' ')}, the robot is in the "
                        f"{(w.robot_room or 'no room').replace('_', ' ')}: go there first")
        obj = here[0]
        dist = math.hypot(obj.position[0] - w.x, obj.position[1] - w.y)
        steps = [] if dist <= REACH_M and obj.name in w.visible_objects() else self._go_and_face(w.robot_room, obj.position[:2])

        def done():
            d = math.hypot(obj.position[0] - w.x, obj.position[1] - w.y)
            if d > REACH_M:
                return False, f"{obj.name} is out of reach ({d:.2f} m)"
            if obj.name not in w.visible_objects():
                return False, f"cannot see {obj.name} from {self._where()}"
            where = obj.support or "floor"
            w.attach(obj.name)
            return True, f"holding {obj.name} (picked up from the {where.replace('_', ' ')})"
        return _Task(rid, fn, steps, done)

    def _do_place(self, rid, fn, object=None, location=None):  # noqa: A002
        w = self.world
        if not w.held:
            raise _Fail("not holding anything")
        held = w.objects[w.held]
        if self._text(object) and not self._is_pronoun(object):
            named = self.resolve_objects(object)
            if held not in named:
                raise _Fail(f"holding {held.name}, not {object!r}")
        loc = self._text(location)
        if not loc or any(names.alias_match(loc, f) for f in self.vocab.floor_words):
            return self._put_on_floor(rid, fn, [])
        furniture = self.resolve_furniture(loc)
        if furniture:
            f = furniture[0]
            steps = self._go_and_face(f.room, f.at)

            def done():
                x, y = self._point_on(f)
                w.put(x, y, f.name)
                return True, f"{held.name} is on the {f.name.replace('_', ' ')} in the {f.room.replace('_', ' ')}"
            return _Task(rid, fn, steps, done)
        room, _ = self.resolve_room(loc)
        if room:
            return self._put_on_floor(rid, fn, self._path_to(room, *self.layout.rooms[room].nav))
        raise _Fail(f"unknown location {location!r}")

    def _put_on_floor(self, rid, fn, steps):
        w = self.world

        def done():
            x, y = w.x + 0.5 * math.cos(w.yaw), w.y + 0.5 * math.sin(w.yaw)
            if not w.is_free(x, y, margin=0.05):
                return False, "no free floor in front of the robot"
            name = w.held
            w.put(x, y, "")
            return True, f"{name} is on the floor of the {w.robot_room.replace('_', ' ')}"
        return _Task(rid, fn, steps, done)

    def _point_on(self, f: Furniture) -> tuple[float, float]:
        """The point of f's top nearest the robot, 0.12 m in from the edge."""
        w = self.world
        x0, y0, x1, y1 = f.footprint(-0.12)
        if x0 > x1:
            x0 = x1 = f.at[0]
        if y0 > y1:
            y0 = y1 = f.at[1]
        return min(max(w.x, x0), x1), min(max(w.y, y0), y1)

    def _do_find_object(self, rid, fn, object=None):  # noqa: A002
        w = self.world
        candidates = self.resolve_objects(object)
        if not candidates:
            raise _Fail(f"no {object!r} in this home" if self._text(object) else "find_object needs an object")
        obj = candidates[0]
        if obj.held:
            return True, f"{obj.name} is in the robot's gripper"
        room = w.object_room(obj)
        steps = [] if obj.name in w.visible_objects() else self._go_and_face(room, obj.position[:2])

        def done():
            if obj.name not in w.visible_objects():
                return False, f"reached the {room.replace('_', ' ')} but cannot see {obj.name}"
            on = f" on the {obj.support.replace('_', ' ')}" if obj.support else " on the floor"
            return True, f"found {obj.name} in the {room.replace('_', ' ')}{on}"
        return _Task(rid, fn, steps, done)

    # ---- other robot functions ----------------------------------------------------------------------
    def _do_take_photo(self, rid, fn):
        from PIL import Image

        rgb = self.world.render()
        if self.photo_dir is None:
            return True, f"took a {rgb.shape[1]}x{rgb.shape[0]} photo in the {self.world.robot_room} (not saved)"
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        self._photos += 1
        path = self.photo_dir / f"photo_{self._photos:04d}.png"
        Image.fromarray(rgb).save(path)
        return True, f"saved {path}"

    # ---- home devices -----------------------------------------------------------------------------
    @staticmethod
    def _names(devices: list[SimDevice]) -> str:
        return ", ".join(d.name for d in devices)

    def _switch(self, device, area, on: bool):
        devices = self.resolve_devices(device, area)
        if not devices:
            raise _Fail(f"no {device!r} {'in ' + str(area) if area else 'here'}")
        for d in devices:
            self.world.set_device(d.name, on=on)
        return True, f"{'on' if on else 'off'}: {self._names(devices)}"

    def _do_turn_on(self, rid, fn, device=None, area=None):
        return self._switch(device, area, True)

    def _do_turn_off(self, rid, fn, device=None, area=None):
        return self._switch(device, area, False)

    def _do_set_brightness(self, rid, fn, level=None, device=None, area=None):
        if level is None or not 0 <= float(level) <= 100:
            raise _Fail(f"brightness must be 0-100, got {level!r}")
        devices = self.resolve_devices(device, area, self.vocab.kinds_with("dimmable"))
        if not devices:
            raise _Fail(f"no dimmable light {'in ' + str(area) if area else 'here'}")
        for d in devices:
            self.world.set_device(d.name, on=float(level) > 0, level=float(level))
        return True, f"brightness {float(level):g}%: {self._names(devices)}"

    def _do_set_temperature(self, rid, fn, temperature=None, area=None):
        if temperature is None:
            raise _Fail("set_temperature needs a temperature")
        kinds = self.vocab.kinds_with("thermostat")
        if area:
            devices = self.resolve_devices("", area, kinds)
        else:
            devices = [d for d in self.world.devices.values() if d.spec.kind in kinds]
        if not devices:
            raise _Fail(f"no thermostat {'in ' + str(area) if area else 'in this home'}")
        for d in devices:
            self.world.set_device(d.name, on=True, level=float(temperature))
        return True, f"{float(temperature):g} degrees: {self._names(devices)}"

    def _do_start_vacuum(self, rid, fn, area=None):
        kinds = self.vocab.kinds_with("vacuum")
        devices = [d for d in self.world.devices.values() if d.spec.kind in kinds]
        if not devices:
            raise _Fail("there is no vacuum cleaner in this home")
        room = ""
        if area:
            room, _ = self.resolve_room(area)
            if not room:
                raise _Fail(f"no room called {area!r} in this home")
        for d in devices:
            self.world.set_device(d.name, on=True, area=room)
        return True, f"vacuuming {room.replace('_', ' ') if room else 'everywhere'}: {self._names(devices)}"

    def _media_devices(self) -> list[SimDevice]:
        kinds = self.vocab.kinds_with("media")
        devices = [d for d in self.world.devices.values() if d.spec.kind in kinds]
        if not devices:
            raise _Fail("there is no speaker or TV in this home")
        playing = [d for d in devices if d.on]
        here = [d for d in devices if d.spec.room == self.world.robot_room]
        # nothing playing: the first media device (in vocabulary order: speakers before TVs), here if possible
        return playing or sorted(here or devices, key=lambda d: kinds.index(d.spec.kind))[:1]

    def _do_media_control(self, rid, fn, action=None):
        devices = self._media_devices()
        for d in devices:
            track = int(d.extra.get("track", 1))
            if action == "play":
                self.world.set_device(d.name, on=True, playing=True)
            elif action == "pause":
                self.world.set_device(d.name, playing=False)
            elif action in ("next", "previous"):
                self.world.set_device(d.name, track=max(1, track + (1 if action == "next" else -1)))
            else:
                raise _Fail(f"unknown media action {action!r}")
        return True, f"{action}: {self._names(devices)} (track {devices[0].extra.get('track', 1)})"

    def _do_set_volume(self, rid, fn, level=None):
        if level is None or not 0 <= float(level) <= 100:
            raise _Fail(f"volume must be 0-100, got {level!r}")
        devices = self._media_devices()
        for d in devices:
            self.world.set_device(d.name, level=float(level))
        return True, f"volume {float(level):g}: {self._names(devices)}"
