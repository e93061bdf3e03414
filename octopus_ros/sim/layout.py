"""Layouts of the simulated home (config/sim/<name>.yaml) and the words that name their parts
(config/sim/vocabulary.yaml). Pure Python + PyYAML: no pybullet, no ROS.

    layout = load_layout("home")                  # a name in config/sim/, or a path to a YAML file
    layout.rooms["kitchen"].contains(7.5, 1.0)    # True
    layout.room_at(7.5, 1.0)                      # "kitchen"
    layout.room_path("bedroom", "kitchen")        # ["bedroom", "hallway", "kitchen"]
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..actions import loader

__all__ = ["LayoutError", "Room", "Door", "Furniture", "Place", "ObjectSpec", "DeviceSpec", "Layout",
           "Vocabulary", "load_layout", "load_vocabulary", "layout_path", "sim_config_dir", "list_layouts"]

VOCABULARY_FILE = "vocabulary.yaml"


class LayoutError(ValueError):
    """A layout or vocabulary file is missing or invalid; the message says where and why."""


def sim_config_dir() -> Path:
    """config/sim of the repository (or of the installed package's share directory)."""
    for d in loader.config_dirs():
        if (d / "sim" / VOCABULARY_FILE).is_file():
            return d / "sim"
    raise LayoutError("cannot find config/sim/vocabulary.yaml in " + ", ".join(str(d) for d in loader.config_dirs()))


def list_layouts() -> list[str]:
    return sorted(p.stem for p in sim_config_dir().glob("*.yaml") if p.name != VOCABULARY_FILE)


def layout_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    candidate = sim_config_dir() / f"{name_or_path}.yaml"
    if candidate.is_file() and candidate.name != VOCABULARY_FILE:
        return candidate
    raise LayoutError(f"layout {str(name_or_path)!r} not found (a YAML path, or one of {list_layouts()})")


def _rgba(value: Any, colors: dict[str, dict], where: str, default=(0.7, 0.7, 0.7, 1.0)) -> tuple:
    if value is None:
        return tuple(default)
    if isinstance(value, str):
        if value not in colors:
            raise LayoutError(f"{where}: unknown colour {value!r} (known: {sorted(colors)})")
        return tuple(float(v) for v in colors[value]["rgba"])
    if isinstance(value, (list, tuple)) and len(value) in (3, 4):
        rgba = [float(v) for v in value] + ([1.0] if len(value) == 3 else [])
        return tuple(rgba)
    raise LayoutError(f"{where}: a colour is a name or [r, g, b(, a)], not {value!r}")


def _xy(value: Any, where: str, n: int = 2) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise LayoutError(f"{where}: expected {n} numbers, got {value!r}")
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise LayoutError(f"{where}: expected numbers, got {value!r}") from exc


def _on(entry: dict):
    """The `on:` key of a layout entry. YAML 1.1 (PyYAML) reads an unquoted key `on` as the boolean True."""
    return entry.get("on", entry.get(True))


# ---- vocabulary -----------------------------------------------------------------------------------
@dataclass
class Vocabulary:
    functions: dict[str, dict]            # function name -> {behavior, args: {role: argument name}}
    stopwords: list[str]
    pronouns: list[str]
    floor_words: list[str]
    rooms: dict[str, list[str]]           # room name -> aliases
    furniture: dict[str, list[str]]       # furniture kind -> aliases
    places: dict[str, list[str]]          # place kind -> aliases
    objects: dict[str, dict]              # category -> {aliases, shape, size, color, urdf, scale}
    colors: dict[str, dict]               # colour name -> {rgba, aliases}
    device_kinds: dict[str, dict]         # kind -> {dimmable, thermostat, media, vacuum}
    device_words: list[dict]              # [{aliases, kinds}]

    def room_aliases(self, room: str) -> list[str]:
        return self.rooms.get(room) or [room.replace("_", " ")]

    def kinds_with(self, flag: str) -> list[str]:
        return [k for k, v in self.device_kinds.items() if v.get(flag)]


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    path = Path(path) if path else sim_config_dir() / VOCABULARY_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LayoutError(f"cannot read {path}: {exc}") from exc

    def str_list(v) -> list[str]:
        return [str(x) for x in (v or [])]

    try:
        return Vocabulary(
            functions={str(k): dict(v or {}) for k, v in (raw.get("functions") or {}).items()},
            stopwords=str_list(raw.get("stopwords")), pronouns=str_list(raw.get("pronouns")),
            floor_words=str_list(raw.get("floor_words")),
            rooms={k: str_list(v) for k, v in (raw.get("rooms") or {}).items()},
            furniture={k: str_list(v) for k, v in (raw.get("furniture") or {}).items()},
            places={k: str_list(v) for k, v in (raw.get("places") or {}).items()},
            objects={k: dict(v) for k, v in (raw.get("objects") or {}).items()},
            colors={k: dict(v) for k, v in (raw.get("colors") or {}).items()},
            device_kinds={k: dict(v or {}) for k, v in (raw.get("device_kinds") or {}).items()},
            device_words=[dict(v) for v in (raw.get("device_words") or [])],
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise LayoutError(f"{path}: invalid vocabulary: {exc}") from exc


# ---- layout ---------------------------------------------------------------------------------------
@dataclass
class Room:
    name: str
    bounds: tuple[float, float, float, float]   # x_min, y_min, x_max, y_max
    floor: tuple
    nav: tuple[float, float]

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        x0, y0, x1, y1 = self.bounds
        return x0 + margin <= x <= x1 - margin and y0 + margin <= y <= y1 - margin

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bounds
        return ((x0 + x1) / 2, (y0 + y1) / 2)


@dataclass
class Door:
    rooms: tuple[str, str]
    at: tuple[float, float]
    width: float


@dataclass
class Furniture:
    name: str
    kind: str
    at: tuple[float, float]
    size: tuple[float, float, float]
    yaw_deg: float
    color: tuple
    room: str = ""

    @property
    def top(self) -> float:
        return self.size[2]

    def footprint(self, inflate: float = 0.0) -> tuple[float, float, float, float]:
        """Axis-aligned bounds (x_min, y_min, x_max, y_max) of the (yaw-rotated) footprint."""
        c, s = abs(math.cos(math.radians(self.yaw_deg))), abs(math.sin(math.radians(self.yaw_deg)))
        hx = (self.size[0] * c + self.size[1] * s) / 2 + inflate
        hy = (self.size[0] * s + self.size[1] * c) / 2 + inflate
        return (self.at[0] - hx, self.at[1] - hy, self.at[0] + hx, self.at[1] + hy)

    def covers(self, x: float, y: float, inflate: float = 0.0) -> bool:
        x0, y0, x1, y1 = self.footprint(inflate)
        return x0 <= x <= x1 and y0 <= y <= y1


@dataclass
class Place:
    name: str
    kind: str
    at: tuple[float, float]
    yaw_deg: float
    room: str = ""


@dataclass
class ObjectSpec:
    name: str
    category: str
    color: str
    rgba: tuple
    at: tuple[float, float]
    on: str
    yaw_deg: float
    shape: str
    size: tuple
    urdf: str = ""
    scale: float = 1.0


@dataclass
class DeviceSpec:
    name: str
    kind: str
    room: str
    at: tuple[float, float, float]
    on: bool
    level: float


@dataclass
class Layout:
    name: str
    description: str
    wall_height: float
    wall_thickness: float
    rooms: dict[str, Room]
    doors: list[Door]
    furniture: dict[str, Furniture]
    places: dict[str, Place]
    objects: list[ObjectSpec]
    devices: list[DeviceSpec]
    robot_at: tuple[float, float]
    robot_yaw_deg: float
    vocabulary: Vocabulary
    source: Path | None = None
    _graph: dict[str, list[tuple[str, Door]]] = field(default_factory=dict, repr=False)

    def room_at(self, x: float, y: float) -> str:
        """The room containing (x, y) ("" outside every room). On a shared edge the first listed wins."""
        for room in self.rooms.values():
            if room.contains(x, y):
                return room.name
        return ""

    def neighbours(self, room: str) -> list[tuple[str, Door]]:
        if not self._graph:
            graph: dict[str, list[tuple[str, Door]]] = {name: [] for name in self.rooms}
            for door in self.doors:
                a, b = door.rooms
                graph[a].append((b, door))
                graph[b].append((a, door))
            self._graph = graph
        return self._graph.get(room, [])

    def room_path(self, start: str, goal: str) -> list[str] | None:
        """Rooms from start to goal through doors (breadth-first: fewest doors); None if unreachable."""
        if start not in self.rooms or goal not in self.rooms:
            return None
        previous: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            room = queue.popleft()
            if room == goal:
                path = [room]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])  # type: ignore[arg-type]
                return path[::-1]
            for nxt, _ in self.neighbours(room):
                if nxt not in previous:
                    previous[nxt] = room
                    queue.append(nxt)
        return None

    def door_between(self, a: str, b: str) -> Door | None:
        return next((d for r, d in self.neighbours(a) if r == b), None)


def load_layout(name_or_path: str | Path = "home", vocabulary: Vocabulary | None = None) -> Layout:
    path = layout_path(name_or_path)
    vocab = vocabulary or load_vocabulary()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LayoutError(f"cannot read layout {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise LayoutError(f"layout {path} is not a YAML mapping")
    try:
        return _build_layout(raw, vocab, path)
    except LayoutError as exc:
        raise LayoutError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise LayoutError(f"{path}: invalid layout ({type(exc).__name__}: {exc})") from exc


def _build_layout(raw: dict, vocab: Vocabulary, source: Path | None) -> Layout:
    colors = vocab.colors
    rooms: dict[str, Room] = {}
    for i, r in enumerate(raw.get("rooms") or []):
        where = f"rooms[{i}]"
        name = str(r["name"])
        bounds = _xy(r["bounds"], where, 4)
        if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
            raise LayoutError(f"{where}: bounds must be [x_min, y_min, x_max, y_max] with min < max")
        room = Room(name, bounds, _rgba(r.get("floor"), colors, where), (0.0, 0.0))
        room.nav = _xy(r["nav"], where) if r.get("nav") is not None else room.center
        if name in rooms:
            raise LayoutError(f"{where}: duplicate room {name!r}")
        rooms[name] = room
    if not rooms:
        raise LayoutError("a layout needs at least one room")

    def room_at(x, y):
        return next((n for n, rm in rooms.items() if rm.contains(x, y)), "")

    doors = []
    for i, d in enumerate(raw.get("doors") or []):
        a, b = (str(v) for v in d["rooms"])
        for r in (a, b):
            if r not in rooms:
                raise LayoutError(f"doors[{i}]: unknown room {r!r}")
        doors.append(Door((a, b), _xy(d["at"], f"doors[{i}]"), float(d.get("width", 1.0))))

    furniture: dict[str, Furniture] = {}
    for i, f in enumerate(raw.get("furniture") or []):
        where = f"furniture[{i}]"
        kind = str(f["kind"])
        if kind not in vocab.furniture:
            raise LayoutError(f"{where}: unknown furniture kind {kind!r} (vocabulary: {sorted(vocab.furniture)})")
        at = _xy(f["at"], where)
        item = Furniture(str(f.get("name") or kind), kind, at, _xy(f["size"], where, 3), float(f.get("yaw", 0.0)),
                         _rgba(f.get("color"), colors, where), room_at(*at))
        if not item.room:
            raise LayoutError(f"{where}: {item.name} at {at} is outside every room")
        furniture[item.name] = item

    places = {}
    for i, p in enumerate(raw.get("places") or []):
        kind = str(p["kind"])
        if kind not in vocab.places:
            raise LayoutError(f"places[{i}]: unknown place kind {kind!r} (vocabulary: {sorted(vocab.places)})")
        at = _xy(p["at"], f"places[{i}]")
        places[str(p.get("name") or kind)] = Place(str(p.get("name") or kind), kind, at, float(p.get("yaw", 0.0)),
                                                   room_at(*at))

    objects: list[ObjectSpec] = []
    counts: dict[str, int] = {}
    for i, o in enumerate(raw.get("objects") or []):
        where = f"objects[{i}]"
        category = str(o["category"])
        if category not in vocab.objects:
            raise LayoutError(f"{where}: unknown object category {category!r} (vocabulary: {sorted(vocab.objects)})")
        info = vocab.objects[category]
        counts[category] = counts.get(category, 0) + 1
        color = str(o.get("color") or info.get("color") or "grey")
        on = str(_on(o) or "")
        if on and on not in furniture:
            raise LayoutError(f"{where}: `on: {on}` is not a furniture name")
        at = _xy(o["at"], where) if o.get("at") is not None else (furniture[on].at if on else None)
        if at is None:
            raise LayoutError(f"{where}: needs `at` (or `on`)")
        if not room_at(*at):
            raise LayoutError(f"{where}: {category} at {at} is outside every room")
        objects.append(ObjectSpec(
            name=str(o.get("name") or f"{category}_{counts[category]}"), category=category, color=color,
            rgba=_rgba(o.get("rgba") or color, colors, where), at=at, on=on, yaw_deg=float(o.get("yaw", 0.0)),
            shape=str(o.get("shape") or info.get("shape") or "box"),
            size=tuple(float(v) for v in (o.get("size") or info.get("size") or [0.05, 0.05, 0.05])),
            urdf=str(o.get("urdf") or info.get("urdf") or ""), scale=float(o.get("scale") or info.get("scale") or 1.0)))
    names = [o.name for o in objects]
    if len(set(names)) != len(names):
        raise LayoutError("object names must be unique")

    devices = []
    for i, d in enumerate(raw.get("devices") or []):
        where = f"devices[{i}]"
        kind = str(d["kind"])
        if kind not in vocab.device_kinds:
            raise LayoutError(f"{where}: unknown device kind {kind!r} (vocabulary: {sorted(vocab.device_kinds)})")
        at = _xy(d["at"], where, 3)
        room = str(d.get("room") or room_at(at[0], at[1]))
        if room not in rooms:
            raise LayoutError(f"{where}: device {d.get('name')!r} is in no room")
        info = vocab.device_kinds[kind]
        has_level = info.get("dimmable") or info.get("thermostat") or info.get("media")
        level = float(d.get("level", 100.0 if info.get("dimmable") else 30.0 if info.get("media") else
                            21.0 if info.get("thermostat") else -1.0)) if has_level else -1.0
        devices.append(DeviceSpec(str(d.get("name") or f"{room}_{kind}"), kind, room, at, bool(_on(d) or False), level))

    robot = raw.get("robot") or {}
    robot_at = _xy(robot.get("at") or next(iter(rooms.values())).nav, "robot.at")
    if not room_at(*robot_at):
        raise LayoutError(f"robot.at {robot_at} is outside every room")
    return Layout(name=str(raw.get("name") or (source.stem if source else "layout")),
                  description=str(raw.get("description") or ""), wall_height=float(raw.get("wall_height", 2.5)),
                  wall_thickness=float(raw.get("wall_thickness", 0.1)), rooms=rooms, doors=doors,
                  furniture=furniture, places=places, objects=objects, devices=devices, robot_at=robot_at,
                  robot_yaw_deg=float(robot.get("yaw", 0.0)), vocabulary=vocab, source=source)
