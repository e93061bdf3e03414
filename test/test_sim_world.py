"""The simulated home without ROS: layouts, the pybullet world (rendering, visibility, walls), the
controller's behaviours, the scenario predicates, and every scenario file's `call:` steps run in-process."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pybullet", reason="pybullet is not installed (requirements.txt)")

from octopus_ros.sim import predicates  # noqa: E402
from octopus_ros.sim.controller import HomeController  # noqa: E402
from octopus_ros.sim.layout import LayoutError, list_layouts, load_layout  # noqa: E402
from octopus_ros.sim.scenario import load_scenario, run_offline, state_from_snapshot  # noqa: E402
from octopus_ros.sim.world import CameraConfig, HomeWorld  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def home():
    return load_layout("home")


@pytest.fixture
def world(home):
    w = HomeWorld(home, CameraConfig(width=96, height=72))
    yield w
    w.close()


@pytest.fixture
def ctl(world):
    return HomeController(world, linear_speed=0.0, angular_speed_deg=0.0)


def do(ctl, function, **arguments):
    results = ctl.handle("r1", function, arguments)
    mine = [r for r in results if r.request_id == "r1"]
    assert len(mine) == 1, results
    return mine[0]


# ---- layouts -------------------------------------------------------------------------------------------
def test_layouts_load_and_are_consistent():
    assert {"home", "studio"} <= set(list_layouts())
    for name in list_layouts():
        lay = load_layout(name)
        assert len(lay.rooms) >= 3 and lay.objects and lay.devices
        assert lay.room_at(*lay.robot_at)
        for room in lay.rooms:   # every room reachable from every other through doors
            assert lay.room_path(lay.room_at(*lay.robot_at), room) is not None, (name, room)
        for obj in lay.objects:
            assert obj.category in lay.vocabulary.objects
        vocab_words = {a for v in lay.vocabulary.objects.values() for a in v["aliases"]}
        assert {"mug", "bottle", "book"} <= vocab_words


def test_layout_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrooms:\n  - {name: a, bounds: [0, 0, 2, 2]}\nobjects:\n  - {category: unicorn, at: [1, 1]}\n")
    with pytest.raises(LayoutError, match="unknown object category 'unicorn'"):
        load_layout(bad)
    with pytest.raises(LayoutError, match="not found"):
        load_layout("no_such_layout")


def test_walls_have_gaps_at_doors(world):
    # From the living room, facing east through the kitchen door (y 2.6-3.8 at x=6): the ray reaches the
    # kitchen table (x=7.2); one metre north of the door, the wall at x=6 stops it.
    world.set_robot_pose(2.0, 3.2, 0.0)
    free, blocker = world.clearance(0.0, 10.0)
    assert blocker == "kitchen_table" and free > 4.5
    world.set_robot_pose(2.0, 4.2, 0.0)
    free, blocker = world.clearance(0.0, 10.0)
    assert blocker == "wall" and 3.5 < free < 4.0


# ---- camera --------------------------------------------------------------------------------------------
def test_render_shows_what_is_in_front(world):
    world.set_robot_pose(8.7, 2.2, 0.0)          # kitchen, facing the counter with the red mug
    rgb = world.render(96, 72)
    assert rgb.shape == (72, 96, 3) and rgb.dtype == np.uint8
    assert "mug_1" in world.visible_objects()
    red = (rgb[:, :, 0] > 150) & (rgb[:, :, 1] < 80) & (rgb[:, :, 2] < 80)
    assert red.sum() > 0, "the red mug is in the image"
    world.set_robot_pose(8.7, 2.2, math.pi)      # facing away
    assert "mug_1" not in world.visible_objects()


def test_walls_hide_objects_in_other_rooms(world):
    world.set_robot_pose(2.0, 1.5, 0.0)          # living room facing the wall towards the kitchen
    assert not {"mug_1", "banana_1", "bottle_1"} & set(world.visible_objects())


def test_light_state_changes_the_image(world):
    world.set_robot_pose(2.0, 3.0, -math.pi / 2)
    dark = world.render(64, 48).astype(int)
    world.set_device("living_room_light", on=True, level=100)
    bright = world.render(64, 48).astype(int)
    assert bright.mean() > dark.mean() + 5


# ---- controller ----------------------------------------------------------------------------------------
def test_pick_up_when_facing_mug_holds_it(world, ctl):
    world.set_robot_pose(8.8, 2.2, 0.0)
    assert "mug_1" in world.visible_objects()
    r = do(ctl, "pick_up", object="red mug")
    assert r.success, r.message
    snap = world.snapshot()
    assert snap.held_object == "mug_1"
    mug = next(o for o in snap.objects if o["name"] == "mug_1")
    assert mug["held"] and mug["room"] == ""
    # the held mug moves with the robot
    assert do(ctl, "navigate_to", location="bedroom").success
    mug = next(o for o in world.snapshot().objects if o["name"] == "mug_1")
    assert world.layout.room_at(*mug["position"][:2]) == "bedroom"


def test_pick_up_needs_the_object_in_this_room(world, ctl):
    r = do(ctl, "pick_up", object="mug")          # the robot starts in the living room
    assert not r.success and "kitchen" in r.message
    assert world.snapshot().held_object == ""


def test_navigate_to_rooms_places_and_furniture(world, ctl):
    for location, room in [("kitchen", "kitchen"), ("卧室", "bedroom"), ("the front door", "hallway"),
                           ("bathroom", "bathroom"), ("kitchen counter", "kitchen"), ("客厅", "living_room")]:
        r = do(ctl, "navigate_to", location=location)
        assert r.success, (location, r.message)
        assert world.robot_room == room, (location, world.robot_room)
    r = do(ctl, "navigate_to", location="garage")
    assert not r.success and "unknown location" in r.message


def test_lights_by_room_and_words(world, ctl):
    assert do(ctl, "turn_on", device="light", area="kitchen").success
    devices = {d["name"]: d for d in world.snapshot().devices}
    assert devices["kitchen_light"]["on"] and not devices["living_room_light"]["on"]
    assert do(ctl, "set_brightness", brightness=30, device="灯", area="卧室").success
    devices = {d["name"]: d for d in world.snapshot().devices}
    assert devices["bedroom_light"]["on"] and devices["bedroom_light"]["level"] == 30
    assert devices["bedroom_lamp"]["level"] == 30
    assert do(ctl, "turn_off", device="lamp", area="bedroom").success
    assert not {d["name"]: d for d in world.snapshot().devices}["bedroom_lamp"]["on"]
    r = do(ctl, "turn_on", device="jacuzzi", area="")
    assert not r.success and "jacuzzi" in r.message


def test_move_is_stopped_by_walls(world, ctl):
    world.set_robot_pose(2.0, 4.2, 0.0)
    r = do(ctl, "move", direction="forward", distance_m=10)
    assert not r.success and "wall" in r.message
    assert world.robot_room == "living_room" and 5.2 < world.x < 6.0
    r = do(ctl, "move", direction="right", distance_m=1)   # sideways, without turning
    assert r.success and abs(world.yaw) < 1e-6 and abs(world.y - 3.2) < 1e-6


def test_motion_takes_time_and_stop_interrupts_it(world):
    ctl = HomeController(world, linear_speed=1.0, angular_speed_deg=90.0)
    assert ctl.handle("nav", "navigate_to", {"location": "bedroom"}) == []   # started, not finished
    for _ in range(10):
        assert ctl.tick(0.1) == []
    moved = (world.x, world.y)
    assert moved != load_layout("home").robot_at
    results = ctl.handle("halt", "stop", {})
    assert [(r.request_id, r.success) for r in results] == [("nav", False), ("halt", True)]
    assert "stopped by stop" in results[0].message
    assert ctl.tick(1.0) == [] and (world.x, world.y) == moved
    # uninterrupted, it arrives
    ctl.handle("nav2", "navigate_to", {"location": "bedroom"})
    done = []
    for _ in range(400):
        done += ctl.tick(0.1)
        if done:
            break
    assert [(r.request_id, r.success) for r in done] == [("nav2", True)] and world.robot_room == "bedroom"


def test_functions_without_a_behaviour_are_reported(ctl):
    r = do(ctl, "send_email", recipient="a", subject="b", body="c")
    assert not r.success and "cannot be executed" in r.message


def test_take_photo_saves_png(world, tmp_path):
    ctl = HomeController(world, 0, 0, photo_dir=tmp_path)
    r = ctl.handle("p", "take_photo", {})[0]
    assert r.success and Path(r.message.split()[-1]).is_file()


# ---- predicates and scenario files ---------------------------------------------------------------------
def test_predicates(world, ctl, home):
    do(ctl, "navigate_to", location="kitchen")
    do(ctl, "pick_up", object="red mug")
    do(ctl, "turn_on", device="light", area="living room")
    state = state_from_snapshot(world.snapshot())
    for text, expected in [("robot in kitchen", True), ("robot in bedroom", False), ("red mug held", True),
                           ("blue mug held", False), ("holding mug", True), ("hand empty", False),
                           ("living room light on", True), ("kitchen light on", False), ("not kitchen light on", True),
                           ("book on coffee table", True), ("green book in living room", True),
                           ("living room ceiling light level 100", True), ("keys on nightstand", True)]:
        ok, seen = predicates.evaluate(text, state, home)
        assert ok is expected, (text, seen)
    with pytest.raises(predicates.PredicateError):
        predicates.evaluate("robot in garage", state, home)
    with pytest.raises(predicates.PredicateError):
        predicates.evaluate("the moon is made of cheese", state, home)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_files_call_steps_pass_offline(path):
    scenario = load_scenario(path)
    result = run_offline(scenario)
    failed = [f"{s.step.index}: {s.detail}" for s in result.steps if s.status == "FAIL"]
    assert not failed, failed


def test_scenarios_cover_both_layouts_and_mark_model_steps():
    scenarios = [load_scenario(p) for p in SCENARIOS]
    assert {s.world for s in scenarios} >= {"home", "studio"}
    assert any(st.needs_trained_model for s in scenarios for st in s.steps)
    assert sum(1 for s in scenarios if not s.needs_agent) >= 4
