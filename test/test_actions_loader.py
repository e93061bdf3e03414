"""Malformed action sets: every problem is a RegistryError naming the path of the bad field."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from octopus_ros.actions import ActionRegistry, RegistryError

REPO = Path(__file__).resolve().parents[1]

BASE = {
    "schema_version": 1,
    "no_action": "nothing",
    "end_token": "<nexa_end>",
    "token_format": "<nexa_{index}>",
    "functions": [
        {"name": "move", "description": "Move.", "args": [
            {"name": "direction", "type": "enum", "values": ["forward", "backward"]},
            {"name": "distance_m", "type": "float", "default": 1.0, "min": 0, "max": 100},
        ], "examples": [{"lang": "en", "text": "go forward", "arguments": {"direction": "forward"}}]},
        {"name": "say", "args": [{"name": "text", "type": "str", "max_length": 20}]},
        {"name": "nothing", "args": []},
    ],
}


def variant(change) -> dict:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def load_error(data) -> str:
    with pytest.raises(RegistryError) as info:
        ActionRegistry.from_dict(data, source="test.yaml")
    return str(info.value)


def test_base_is_valid():
    r = ActionRegistry.from_dict(BASE)
    assert r.no_action.name == "nothing" and len(r) == 3


def test_schema_file_is_a_valid_schema():
    schema = json.loads((REPO / "config" / "functions.schema.json").read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)


def arg(f: int, a: int):
    return lambda d: d["functions"][f]["args"][a]


CASES = [
    ("arg type", lambda d: arg(0, 1)(d).update(type="string"),
     "functions[0].args[1].type: 'string' is not one of ['str', 'int', 'float', 'enum']"),
    ("function without name", lambda d: d["functions"][1].pop("name"),
     "functions[1]: 'name' is a required property"),
    ("bad identifier", lambda d: d["functions"][1].update(name="2say"),
     "functions[1].name: '2say' does not match"),
    ("unknown key", lambda d: arg(0, 1)(d).update(defualt=2),
     "functions[0].args[1]: Additional properties are not allowed ('defualt' was unexpected)"),
    ("unknown top-level key", lambda d: d.update(functionz=[]),
     "(top level): Additional properties are not allowed ('functionz' was unexpected)"),
    ("missing top-level key", lambda d: d.pop("end_token"), "(top level): 'end_token' is a required property"),
    ("schema version", lambda d: d.update(schema_version=2), "schema_version: 1 was expected"),
    ("no functions", lambda d: d.update(functions=[]), "functions: [] should be non-empty"),
    ("enum without values", lambda d: arg(0, 0)(d).pop("values"), "functions[0].args[0]: 'values' is a required property"),
    ("empty enum", lambda d: arg(0, 0)(d).update(values=[]), "functions[0].args[0].values: [] should be non-empty"),
    ("duplicate enum values", lambda d: arg(0, 0)(d).update(values=["a", "a"]),
     "functions[0].args[0].values: ['a', 'a'] has non-unique elements"),
    ("empty enum value", lambda d: arg(0, 0)(d).update(values=["a", ""]), "functions[0].args[0].values[1]: '' should be non-empty"),
    ("yaml boolean enum value", lambda d: arg(0, 0)(d).update(values=["yes", False]),
     "functions[0].args[0].values[1]: False is not of type 'string' (YAML reads yes/no/on/off/true/false as booleans"),
    ("enum value with control char", lambda d: arg(0, 0)(d).update(values=["a\tb"]),
     "functions[0].args[0].values[0]: 'a\\tb' contains the control character U+0009"),
    ("max_length zero", lambda d: arg(1, 0)(d).update(max_length=0), "functions[1].args[0].max_length: 0 is less than the minimum of 1"),
    ("bad from_image", lambda d: arg(1, 0)(d).update(from_image="yes"), "functions[1].args[0].from_image: 'yes' is not of type 'boolean'"),
    ("duplicate function", lambda d: d["functions"][1].update(name="move"),
     "functions[1].name: duplicate function name 'move' (also functions[0])"),
    ("duplicate argument", lambda d: arg(0, 1)(d).update(name="direction"),
     "functions[0].args[1].name: duplicate argument name 'direction' (also functions[0].args[0])"),
    ("no_action missing", lambda d: d.update(no_action="idle"), "no_action: 'idle' is not the name of a function"),
    ("no_action with args", lambda d: d["functions"][2].update(args=[{"name": "x", "type": "str"}]),
     "functions[2].args: the no_action function 'nothing' must take no arguments"),
    ("default above max", lambda d: arg(0, 1)(d).update(default=200),
     "functions[0].args[1].default: 200 is above the maximum 100"),
    ("default wrong type", lambda d: arg(0, 1)(d).update(default="far"),
     "functions[0].args[1].default: expected a number, got str 'far'"),
    ("enum default not a value", lambda d: arg(0, 0)(d).update(default="up"),
     "functions[0].args[0].default: 'up' is not one of ['forward', 'backward']"),
    ("str default too long", lambda d: arg(1, 0)(d).update(default="x" * 21),
     "functions[1].args[0].default: string too long (21 characters, max_length 20)"),
    ("int default not integral", lambda d: d["functions"][1]["args"].append(
        {"name": "n", "type": "int", "default": 1.5}), "functions[1].args[1].default: expected an integer, got 1.5"),
    ("required after optional", lambda d: arg(0, 1)(d).pop("default") and None or d["functions"][0]["args"].insert(
        0, {"name": "speed", "type": "int", "default": 1}),
     "functions[0].args[1]: required argument 'direction' follows the optional argument 'speed'"),
    ("min above max", lambda d: arg(0, 1)(d).update(min=50, max=10), "functions[0].args[1]: min 50 is greater than max 10"),
    ("int bound not integral", lambda d: d["functions"][1]["args"].append({"name": "n", "type": "int", "min": 0.5}),
     "functions[1].args[1].min: 0.5 is not an integer"),
    ("infinite bound", lambda d: arg(0, 1)(d).update(max=float("inf")), "functions[0].args[1].max: inf is not a finite number"),
    ("min on str", lambda d: arg(1, 0)(d).update(min=1), "functions[1].args[0].min: not allowed for type 'str'"),
    ("values on str", lambda d: arg(1, 0)(d).update(values=["a"]), "functions[1].args[0].values: not allowed for type 'str'"),
    ("max_length on int", lambda d: arg(0, 1)(d).update(max_length=3), "functions[0].args[1].max_length: not allowed for type 'float'"),
    ("token_format without index", lambda d: d.update(token_format="<nexa>"), "token_format: '<nexa>' does not match"),
    ("token prefix of another", lambda d: d.update(token_format="<f{index}"), None),
    ("end token equals a token", lambda d: d.update(end_token="<nexa_2>"), "end_token: '<nexa_2>' is also a functional token"),
    ("example with bad value", lambda d: d["functions"][0]["examples"][0]["arguments"].update(distance_m=500),
     "functions[0].examples[0].arguments: argument 'distance_m': 500 is above the maximum 100"),
    ("example missing argument", lambda d: d["functions"][0]["examples"][0]["arguments"].clear(),
     "functions[0].examples[0].arguments: missing required argument 'direction'"),
    ("example unknown argument", lambda d: d["functions"][0]["examples"][0]["arguments"].update(speed=1),
     "functions[0].examples[0].arguments: unknown argument 'speed'"),
    ("example without text", lambda d: d["functions"][0]["examples"][0].pop("text"),
     "functions[0].examples[0]: 'text' is a required property"),
    ("example bad lang", lambda d: d["functions"][0]["examples"][0].update(lang="English"),
     "functions[0].examples[0].lang: 'English' does not match"),
    ("top level not a mapping", lambda d: None, None),
]


@pytest.mark.parametrize("change,expected", [(c, e) for _, c, e in CASES], ids=[n for n, _, _ in CASES])
def test_malformed_action_set(change, expected):
    if expected is None:
        return  # covered by dedicated tests below
    message = load_error(variant(change))
    assert message.startswith("test.yaml: ")
    assert expected in message, message


def test_token_prefix_of_another():
    data = variant(lambda d: d.update(token_format="<f{index}"))
    data["functions"] = [{"name": f"f{i}"} for i in range(11)] + [{"name": "nothing"}]
    message = load_error(data)
    assert "token_format: the token '<f1' is a prefix of '<f10'" in message


@pytest.mark.parametrize("data,expected", [
    ([1, 2], "(top level): [1, 2] is not of type 'object'"),
    (None, "(top level): None is not of type 'object' (an empty YAML value is null)"),
    ("text", "(top level): 'text' is not of type 'object'"),
])
def test_top_level_not_a_mapping(data, expected):
    assert expected in load_error(data)


def test_all_semantic_problems_are_listed():
    def change(d):
        d["functions"][1]["name"] = "move"
        d["functions"][0]["args"][1]["default"] = 500
    with pytest.raises(RegistryError) as info:
        ActionRegistry.from_dict(variant(change))
    assert len(info.value.problems) == 2
    assert str(info.value).startswith("2 problems:\n  ")


def test_schema_problems_counted():
    def change(d):
        d["functions"][0]["args"][1]["type"] = "string"
        d["functions"][1]["args"][0]["type"] = "text"
    message = load_error(variant(change))
    assert "(and 1 more problem)" in message


# -- files ------------------------------------------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "functions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_round_trip(tmp_path):
    path = write(tmp_path, yaml.safe_dump(BASE, allow_unicode=True))
    r = ActionRegistry.from_yaml(path)
    assert r.source == str(path) and r.fingerprint() == ActionRegistry.from_dict(BASE).fingerprint()


def test_missing_file(tmp_path):
    with pytest.raises(RegistryError, match="functions file not found"):
        ActionRegistry.from_yaml(tmp_path / "nope.yaml")


def test_yaml_syntax_error(tmp_path):
    path = write(tmp_path, "schema_version: 1\nfunctions: [\n  {name: a\n")
    with pytest.raises(RegistryError) as info:
        ActionRegistry.from_yaml(path)
    assert str(info.value).startswith(f"{path}: invalid YAML (line ")


def test_duplicate_yaml_key(tmp_path):
    text = yaml.safe_dump(BASE) + "no_action: nothing\n"
    with pytest.raises(RegistryError, match="found duplicate key 'no_action'"):
        ActionRegistry.from_yaml(write(tmp_path, text))


def test_yaml_booleans_hint(tmp_path):
    text = yaml.safe_dump(BASE).replace("- forward", "- yes").replace("- backward", "- no")
    with pytest.raises(RegistryError, match="quote the value"):
        ActionRegistry.from_yaml(write(tmp_path, text))


def test_not_utf8(tmp_path):
    path = tmp_path / "functions.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RegistryError, match="cannot read the functions file"):
        ActionRegistry.from_yaml(path)


def test_input_dict_is_not_modified():
    data = copy.deepcopy(BASE)
    ActionRegistry.from_dict(data)
    assert data == BASE
