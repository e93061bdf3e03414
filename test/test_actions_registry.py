"""The default action set (config/functions.yaml) and the ActionRegistry API."""
from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from octopus_ros.actions import (MISSING, ActionRegistry, ArgumentError, PrefixState, RegistryError,
                                 default_path)

REPO = Path(__file__).resolve().parents[1]
REGISTRY = ActionRegistry.default()
RAW = yaml.safe_load(default_path().read_text(encoding="utf-8"))
EXAMPLES = [(f.name, k, e) for f in REGISTRY.functions for k, e in enumerate(f.examples)]


def test_default_path_is_the_repo_config():
    assert default_path() == REPO / "config" / "functions.yaml"


def test_default_action_set_shape():
    r = REGISTRY
    assert len(r) == 31
    assert r.no_action is r.functions[-1] and r.no_action.args == ()
    assert r.tokens == [f"<nexa_{i}>" for i in range(31)]
    assert r.end_token == "<nexa_end>"
    assert r.special_tokens == r.tokens + ["<nexa_end>"]
    assert [f.index for f in r] == list(range(31))
    assert len(set(r.names)) == 31
    for f in r:
        assert r.by_name(f.name) is f and r.by_index(f.index) is f and r.by_token(f.token) is f
        assert f.description and "\n" not in f.description, f.name
        assert f.category in {"robot", "home", "services", "none"}, f.name
        for a in f.args:
            assert a.description, (f.name, a.name)
            if a.type == "str":
                assert a.max_length is not None and "max_length" in _raw_arg(f.index, a.name), (f.name, a.name)


def _raw_arg(index: int, name: str) -> dict:
    return next(a for a in RAW["functions"][index].get("args", []) if a["name"] == name)


def test_default_action_set_matches_actions_md():
    """The table of /work/shared/notes/ACTIONS.md, in order, with types and defaults."""
    expected = [
        ("navigate_to", "location:str"), ("move", "direction:enum distance_m:float=1.0"),
        ("turn", "angle_deg:float"), ("stop", ""), ("pick_up", "object:str"),
        ("place", "object:str location:str"), ("find_object", "object:str"), ("follow_person", ""),
        ("take_photo", ""), ("speak", "text:str"), ("turn_on", "device:str area:str="),
        ("turn_off", "device:str area:str="), ("set_brightness", "brightness:int device:str= area:str="),
        ("set_temperature", "temperature:float area:str="), ("start_vacuum", "area:str="),
        ("set_timer", "hours:int=0 minutes:int=0 seconds:int=0"),
        ("add_to_list", "item:str list_name:str=shopping"), ("media_control", "action:enum"),
        ("set_volume", "level:int"), ("get_weather", "location:str="),
        ("send_email", "recipient:str subject:str body:str"), ("send_text_message", "contact:str message:str"),
        ("google_search", "query:str"), ("amazon_shopping", "product:str category:str"),
        ("smart_recycle", "item:str bin:enum"), ("lost_and_found", "item:str location:str="),
        ("interior_design", "room:str style:str"), ("instacart_shopping", "item:str quantity:int=1"),
        ("doordash_order", "dish:str restaurant:str="), ("pet_care", "pet:str concern:str"),
        ("no_action", ""),
    ]
    got = []
    for f in REGISTRY:
        sig = " ".join(f"{a.name}:{a.type}" + ("" if a.required else f"={a.default}") for a in f.args)
        got.append((f.name, sig))
    assert got == expected
    image_args = {(f.name, a.name) for f in REGISTRY for a in f.args if a.from_image}
    assert image_args == {("pick_up", "object"), ("place", "object"), ("find_object", "object"),
                          ("add_to_list", "item"), ("google_search", "query"), ("amazon_shopping", "product"),
                          ("smart_recycle", "item"), ("lost_and_found", "item"), ("interior_design", "style"),
                          ("instacart_shopping", "item"), ("doordash_order", "dish"), ("pet_care", "pet")}
    enums = {(f.name, a.name): list(a.values) for f in REGISTRY for a in f.args if a.type == "enum"}
    assert enums == {("move", "direction"): ["forward", "backward", "left", "right"],
                     ("media_control", "action"): ["play", "pause", "next", "previous"],
                     ("smart_recycle", "bin"): ["recycling", "compost", "landfill", "hazardous"]}


def test_numeric_ranges():
    ranges = {(f.name, a.name): (a.min, a.max) for f in REGISTRY for a in f.args if a.type in ("int", "float")}
    assert ranges == {
        ("move", "distance_m"): (0.0, 100.0), ("turn", "angle_deg"): (-360.0, 360.0),
        ("set_brightness", "brightness"): (0, 100), ("set_temperature", "temperature"): (5.0, 35.0),
        ("set_timer", "hours"): (0, 23), ("set_timer", "minutes"): (0, 59), ("set_timer", "seconds"): (0, 59),
        ("set_volume", "level"): (0, 100), ("instacart_shopping", "quantity"): (1, 100)}
    assert "Celsius" in REGISTRY.by_name("set_temperature").description


def test_every_function_has_english_and_chinese_examples():
    for f in REGISTRY:
        langs = [e["lang"] for e in f.examples]
        assert langs.count("en") >= 2 and langs.count("zh") >= 2, f.name
        for e in f.examples:
            if e["lang"] == "zh":
                assert re.search(r"[\u4e00-\u9fff]", e["text"]), (f.name, e["text"])


@pytest.mark.parametrize("name,k,example", EXAMPLES, ids=[f"{n}-{k}" for n, k, _ in EXAMPLES])
def test_example_round_trips(name, k, example):
    r = REGISTRY
    f = r.by_name(name)
    text = r.format_call(name, example["arguments"])
    result = r.parse(text)
    assert result.ok, result.error
    assert result.call.function is f
    assert result.call.arguments == r.normalize_arguments(name, example["arguments"])
    for key, value in example["arguments"].items():
        assert result.call.arguments[key] == value
    body = text[len(f.token):-len(r.end_token)]
    assert f.grammar.check(body) is PrefixState.COMPLETE
    for i in range(len(body)):
        assert f.grammar.check(body[:i]) is PrefixState.PREFIX, body[:i]


def test_copied_values_appear_in_the_command():
    """str values not taken from the image are copied from the command (in its language). The one
    exception is amazon_shopping.category, which the model infers."""
    for f in REGISTRY:
        for e in f.examples:
            for a in f.args:
                value = e["arguments"].get(a.name)
                if a.type != "str" or a.from_image or not value or (f.name, a.name) == ("amazon_shopping", "category"):
                    continue
                assert value in e["text"], (f.name, a.name, value, e["text"])


def test_image_examples_name_what_the_camera_sees():
    for f in REGISTRY:
        for e in f.examples:
            if "image" in e:
                assert any(a.from_image for a in f.args), f.name


def test_parsed_call_json_and_typed_arguments():
    r = REGISTRY
    call = r.parse("<nexa_1>('forward', 10)<nexa_end>").call
    assert call.name == "move"
    assert call.arguments == {"direction": "forward", "distance_m": 10.0}
    assert isinstance(call.arguments["distance_m"], float)
    assert call.arguments_json == '{"direction": "forward", "distance_m": 10.0}'
    assert call.typed_arguments == [("direction", "enum", "forward"), ("distance_m", "float", "10")]
    call = r.parse("<nexa_10>('台灯', '客厅')<nexa_end>").call
    assert call.arguments_json == '{"device": "台灯", "area": "客厅"}'
    call = r.parse("<nexa_12>(30)<nexa_end>").call
    assert list(call.arguments) == ["brightness", "device", "area"]  # schema order, defaults filled
    assert call.typed_arguments == [("brightness", "int", "30"), ("device", "str", ""), ("area", "str", "")]
    call = r.parse(r"<nexa_9>('it\'s a \\ test')<nexa_end>").call
    assert call.arguments == {"text": "it's a \\ test"}
    assert call.typed_arguments == [("text", "str", "it's a \\ test")]
    assert json.loads(call.arguments_json) == call.arguments


def test_format_call_canonical_forms():
    r = REGISTRY
    assert r.format_call("stop", {}) == "<nexa_3>()<nexa_end>"
    assert r.format_call("stop") == "<nexa_3>()<nexa_end>"
    assert r.format_call("pick_up", {"object": "red mug"}) == "<nexa_4>('red mug')<nexa_end>"
    assert r.format_call("move", {"direction": "forward", "distance_m": 10}) == "<nexa_1>('forward', 10)<nexa_end>"
    assert r.format_call("move", {"direction": "forward", "distance_m": 1.0}) == "<nexa_1>('forward')<nexa_end>"
    assert r.format_call("move", {"direction": "left", "distance_m": 0.25}) == "<nexa_1>('left', 0.25)<nexa_end>"
    assert r.format_call("turn", {"angle_deg": -0.0}) == "<nexa_2>(0)<nexa_end>"
    assert r.format_call("turn", {"angle_deg": 1e-7}) == "<nexa_2>(0.0000001)<nexa_end>"
    assert r.format_call("set_timer", {"seconds": 30}) == "<nexa_15>(0, 0, 30)<nexa_end>"
    assert r.format_call("set_timer", {"hours": 0}) == "<nexa_15>()<nexa_end>"
    assert r.format_call("set_brightness", {"brightness": 5, "area": "x"}) == "<nexa_12>(5, '', 'x')<nexa_end>"
    assert r.format_call("speak", {"text": "a'b\\c"}) == "<nexa_9>('a\\'b\\\\c')<nexa_end>"
    fn = r.by_name("pick_up")
    assert r.format_call(fn, {"object": "x"}) == "<nexa_4>('x')<nexa_end>"


@pytest.mark.parametrize("name,arguments,message", [
    ("fly", {}, "unknown function 'fly'"),
    ("move", {}, "missing required argument 'direction'"),
    ("move", {"direction": "up"}, "'up' is not one of ['forward', 'backward', 'left', 'right']"),
    ("move", {"direction": "left", "speed": 2}, "unknown argument 'speed' (move takes: direction, distance_m)"),
    ("move", {"direction": "left", "distance_m": 101}, "101 is above the maximum 100"),
    ("move", {"direction": "left", "distance_m": "3"}, "expected a number, got str '3'"),
    ("move", {"direction": "left", "distance_m": True}, "expected a number, got bool"),
    ("move", {"direction": "left", "distance_m": float("nan")}, "not a finite number"),
    ("move", {"direction": "left", "distance_m": 1e-40}, "characters as a decimal literal"),
    ("set_volume", {"level": 50.0}, "expected an integer, got 50.0"),
    ("set_volume", {"level": -1}, "-1 is below the minimum 0"),
    ("pick_up", {"object": "x" * 61}, "string too long (61 characters, max_length 60)"),
    ("pick_up", {"object": "a\nb"}, "control character U+000A"),
    ("pick_up", {"object": 5}, "expected a string, got int 5"),
    ("pick_up", ["object"], "arguments must be a mapping"),
])
def test_invalid_arguments(name, arguments, message):
    problems = REGISTRY.validate_arguments(name, arguments)
    assert any(message in p for p in problems), problems
    with pytest.raises(ArgumentError) as info:
        REGISTRY.format_call(name, arguments)
    assert message in str(info.value)


def test_lookup_errors():
    with pytest.raises(KeyError, match="unknown function 'fly'"):
        REGISTRY.by_name("fly")
    for bad in (31, -1, True, "3"):
        with pytest.raises(IndexError, match="valid: 0..30"):
            REGISTRY.by_index(bad)
    assert REGISTRY.by_token("<nexa_31>") is None
    assert REGISTRY.by_name("move").arg("distance_m").default == 1.0
    assert REGISTRY.by_name("move").arg("direction").default is MISSING
    with pytest.raises(KeyError, match="has no argument 'speed'"):
        REGISTRY.by_name("move").arg("speed")


def test_fingerprint_ignores_descriptions_and_examples():
    base = REGISTRY.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert ActionRegistry.default().fingerprint() == base
    data = copy.deepcopy(RAW)
    data["functions"][1]["description"] = "Something else entirely."
    data["functions"][1]["category"] = "other"
    data["functions"][1]["args"][0]["description"] = "changed"
    data["functions"][1]["examples"] = data["functions"][1]["examples"][:1]
    data["functions"][4]["args"][0]["from_image"] = False
    assert ActionRegistry.from_dict(data).fingerprint() == base


@pytest.mark.parametrize("change", [
    lambda d: d["functions"].insert(0, d["functions"].pop(1)),                  # reorder
    lambda d: d["functions"][0].update(name="go_to"),                           # rename
    lambda d: d["functions"][1]["args"][1].update(default=2.0),                 # default
    lambda d: d["functions"][1]["args"][1].update(max=50.0),                    # range
    lambda d: d["functions"][1]["args"][0]["values"].append("up"),              # enum values
    lambda d: d["functions"][0]["args"][0].update(max_length=61),               # max_length
    lambda d: (d["functions"][0]["args"][0].update(name="place"), d["functions"][0].pop("examples")),
    lambda d: d.update(end_token="<end>"),                                      # tokens
])
def test_fingerprint_changes_with_the_schema(change):
    data = copy.deepcopy(RAW)
    change(data)
    assert ActionRegistry.from_dict(data).fingerprint() != REGISTRY.fingerprint()


def test_custom_action_set_without_default_names():
    """Nothing depends on the default names: a tiny action set with another no_action name works."""
    r = ActionRegistry.from_dict({
        "schema_version": 1, "no_action": "idle", "end_token": "</call>", "token_format": "<fn{index}>",
        "functions": [
            {"name": "idle"},
            {"name": "wave", "args": [{"name": "times", "type": "int", "default": 1, "min": 1, "max": 9}]},
        ]})
    assert r.no_action.name == "idle" and r.tokens == ["<fn0>", "<fn1>"]
    assert r.format_call("wave", {"times": 3}) == "<fn1>(3)</call>"
    assert r.parse("<fn1>()</call>").call.arguments == {"times": 1}
    assert r.parse("<fn0>()</call>").call.function is r.no_action
    assert "unknown functional token '<fn2>'" in r.parse("<fn2>()</call>").error


def test_no_default_function_names_in_code():
    """The code finds functions through the YAML (no_action key, names), never by literal name. (The
    file format's own keys, like `no_action`, may appear.)"""
    schema = json.loads((REPO / "config" / "functions.schema.json").read_text(encoding="utf-8"))
    names = set(REGISTRY.names) - set(schema["properties"])
    for path in (REPO / "octopus_ros" / "actions").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                assert node.value not in names, f"{path.name}:{node.lineno} hard-codes {node.value!r}"


def test_registry_error_is_a_value_error():
    assert issubclass(RegistryError, ValueError) and issubclass(ArgumentError, ValueError)
