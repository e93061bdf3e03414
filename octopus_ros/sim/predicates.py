"""Expected-state predicates of scenario files, checked against a WorldState (as received over DDS).

    robot in kitchen                 robot at sofa / robot at front door
    holding red mug                  mug held            hand empty
    red mug in living room           mug on coffee table
    living room light on             bedroom lights off  kitchen light level 30   tv volume 40
    not <any of the above>

Objects and devices are named with the vocabulary (config/sim/vocabulary.yaml) as commands name them;
exact names (mug_1, living_room_light) work too. An object phrase holds when ANY matching object satisfies
it; a device phrase ("living room lights") when ALL matching devices do. The layout supplies what
WorldState does not carry: furniture geometry and object colours.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from . import names
from .layout import Layout

__all__ = ["PredicateError", "state_from_msg", "evaluate"]


class PredicateError(ValueError):
    """The predicate text cannot be understood (a scenario file error)."""


@dataclass
class _Obj:
    name: str
    category: str
    room: str
    x: float
    y: float
    z: float
    held: bool


def state_from_msg(msg) -> dict[str, Any]:
    """A WorldState message as plain data."""
    return {
        "robot": {"x": msg.robot_pose.x, "y": msg.robot_pose.y, "yaw": msg.robot_pose.theta, "room": msg.robot_room},
        "held": msg.held_object,
        "objects": [{"name": o.name, "category": o.category, "room": o.room, "held": o.held,
                     "position": (o.position.x, o.position.y, o.position.z)} for o in msg.objects],
        "devices": [{"name": d.name, "kind": d.kind, "room": d.room, "on": d.on, "level": d.level}
                    for d in msg.devices],
    }


def _rooms(layout: Layout) -> dict[str, list[str]]:
    return {r: layout.vocabulary.room_aliases(r) for r in layout.rooms}


def _room(layout: Layout, text: str) -> str:
    found = names.best_match(text, _rooms(layout))
    if not found:
        raise PredicateError(f"no room {text!r} in layout {layout.name} ({', '.join(layout.rooms)})")
    return found[0]


def _objects(layout: Layout, state: dict, text: str) -> list[_Obj]:
    vocab = layout.vocabulary
    objs = [_Obj(o["name"], o["category"], o["room"], *o["position"], o["held"]) for o in state["objects"]]
    t = names.strip_stopwords(text, vocab.stopwords)
    exact = [o for o in objs if names.normalize(o.name) == names.normalize(t)]
    if exact:
        return exact
    found = names.best_match(t, {k: v.get("aliases", []) for k, v in vocab.objects.items()})
    if not found:
        raise PredicateError(f"{text!r} names no object category of the vocabulary")
    color = names.best_match(t, {k: v.get("aliases", []) for k, v in vocab.colors.items()})
    if color and names.normalize(color[1]) == names.normalize(found[1]):
        color = None
    colors = {o.name: o.color for o in layout.objects}
    return [o for o in objs if o.category == found[0] and (color is None or colors.get(o.name) == color[0])]


def _devices(layout: Layout, state: dict, text: str) -> list[dict]:
    vocab = layout.vocabulary
    t = names.strip_stopwords(text, vocab.stopwords)
    exact = [d for d in state["devices"] if names.normalize(d["name"]) == names.normalize(t)]
    if exact:
        return exact
    room, rest = names.split_room_words(t, _rooms(layout))
    found = names.best_match(rest, {str(i): w.get("aliases", []) for i, w in enumerate(vocab.device_words)})
    if not found:
        raise PredicateError(f"{text!r} names no device of the vocabulary")
    kinds = set(vocab.device_words[int(found[0])].get("kinds", []))
    devices = [d for d in state["devices"] if d["kind"] in kinds and (not room or d["room"] == room)]
    if not devices:
        raise PredicateError(f"no device matches {text!r} in layout {layout.name}")
    return devices


def _target_xy(layout: Layout, text: str) -> tuple[str, tuple[float, float], str]:
    vocab = layout.vocabulary
    t = names.strip_stopwords(text, vocab.stopwords)
    room, rest = names.split_room_words(t, _rooms(layout))
    place = names.best_match(rest or t, vocab.places)
    if place:
        for p in layout.places.values():
            if p.kind == place[0] and (not room or p.room == room):
                return p.name, p.at, p.room
    furn = names.best_match(rest or t, vocab.furniture)
    if furn:
        for f in layout.furniture.values():
            if f.kind == furn[0] and (not room or f.room == room):
                return f.name, f.at, f.room
    raise PredicateError(f"{text!r} names no place or furniture of layout {layout.name}")


def _on_furniture(layout: Layout, o: _Obj, text: str) -> bool:
    vocab = layout.vocabulary
    t = names.strip_stopwords(text, vocab.stopwords)
    room, rest = names.split_room_words(t, _rooms(layout))
    exact = [f for f in layout.furniture.values() if names.normalize(f.name) == names.normalize(t)]
    found = names.best_match(rest or t, vocab.furniture)
    if not exact and not found:
        raise PredicateError(f"{text!r} names no furniture of the vocabulary")
    items = exact or [f for f in layout.furniture.values() if f.kind == found[0] and (not room or f.room == room)]
    return any(f.covers(o.x, o.y, 0.02) and o.z >= f.top - 0.01 and not o.held for f in items)


_LEVEL = re.compile(r"^(.*?)\s+(?:level|brightness|volume|temperature|at)\s+(-?\d+(?:\.\d+)?)%?$")


def evaluate(predicate: str, state: dict, layout: Layout) -> tuple[bool, str]:
    """(holds, what was observed). Raises PredicateError for a predicate it cannot read."""
    text = " ".join(str(predicate).strip().split())
    low = text.lower()
    if low.startswith("not "):
        ok, seen = evaluate(text[4:], state, layout)
        return not ok, seen
    robot = state["robot"]
    if m := re.match(r"^robot in (.+)$", low):
        room = _room(layout, m.group(1))
        return robot["room"] == room, f"robot in {robot['room'] or 'no room'}"
    if m := re.match(r"^robot (?:at|near) (.+)$", low):
        name, (x, y), room = _target_xy(layout, m.group(1))
        d = math.hypot(robot["x"] - x, robot["y"] - y)
        return d <= 1.6 and robot["room"] == room, f"robot {d:.2f} m from {name}, in {robot['room']}"
    if low in ("hand empty", "holding nothing", "nothing held"):
        return not state["held"], f"holding {state['held'] or 'nothing'}"
    if m := re.match(r"^holding (.+)$", low) or re.match(r"^(.+?) (?:is )?held$", low):
        objs = _objects(layout, state, m.group(1))
        return any(o.held for o in objs), f"holding {state['held'] or 'nothing'}"
    if m := re.match(r"^(.+?) (?:is )?on (?:the )?(.+)$", low):
        subject, what = m.group(1), m.group(2)
        if what not in ("", "on", "off") and not re.match(r"^(on|off)$", what):
            try:
                objs = _objects(layout, state, subject)
            except PredicateError:
                objs = None
            if objs is not None:
                ok = any(_on_furniture(layout, o, what) for o in objs)
                return ok, "; ".join(f"{o.name} at ({o.x:.2f}, {o.y:.2f}, {o.z:.2f}) in {o.room or 'gripper'}"
                                     for o in objs) or "no such object"
    if m := re.match(r"^(.+?) (?:is )?in (?:the )?(.+)$", low):
        objs = _objects(layout, state, m.group(1))
        room = _room(layout, m.group(2))
        return any(o.room == room for o in objs), "; ".join(f"{o.name} in {o.room or 'gripper'}" for o in objs)
    if m := re.match(r"^(.+?) (?:is )?(on|off)$", low):
        devices = _devices(layout, state, m.group(1))
        want = m.group(2) == "on"
        return all(d["on"] == want for d in devices), ", ".join(
            f"{d['name']} {'on' if d['on'] else 'off'}" for d in devices)
    if m := _LEVEL.match(low):
        devices = _devices(layout, state, m.group(1))
        want = float(m.group(2))
        return all(abs(d["level"] - want) < 0.51 for d in devices), ", ".join(
            f"{d['name']} level {d['level']:g}" for d in devices)
    raise PredicateError(f"cannot read predicate {predicate!r} (see octopus_ros/sim/predicates.py)")
