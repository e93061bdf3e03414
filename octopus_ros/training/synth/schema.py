"""The function schema the generator needs: names, argument specs, defaults, and validation.

Uses the project registry (octopus_ros.actions.ActionRegistry) when it is importable, so every generated
example is checked with registry.validate_arguments and rendered once with registry.format_call. Without
it (early in the project's life) it reads config/functions.yaml itself and applies the same basic
checks (types, enum values, min/max, max_length, required arguments); the dataset card says which.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class SchemaError(ValueError):
    pass


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass
class ArgInfo:
    name: str
    type: str
    default: Any = MISSING
    values: tuple = ()
    min: float | None = None
    max: float | None = None
    max_length: int = 120
    from_image: bool = False

    @property
    def required(self) -> bool:
        return self.default is MISSING


@dataclass
class FunctionInfo:
    name: str
    args: list = field(default_factory=list)

    @property
    def image_args(self) -> list[str]:
        return [a.name for a in self.args if a.from_image]


def _is_missing(value) -> bool:
    if value is MISSING:
        return True
    import dataclasses
    if value is dataclasses.MISSING:
        return True
    return type(value).__name__.lower().strip("_") in ("missing", "missingtype", "sentinel") or repr(value) == "MISSING"


class Schema:
    def __init__(self, functions: list[FunctionInfo], no_action: str, registry=None, source: str = ""):
        self.functions = {f.name: f for f in functions}
        self.order = [f.name for f in functions]
        self.no_action = no_action
        self.registry = registry
        self.source = source

    def function(self, name: str) -> FunctionInfo:
        if name not in self.functions:
            raise SchemaError(f"unknown function {name!r}")
        return self.functions[name]

    def validate(self, name: str, arguments: dict) -> list[str]:
        if self.registry is not None:
            return list(self.registry.validate_arguments(name, arguments))
        return _basic_validate(self.function(name), arguments)

    def format_call(self, name: str, arguments: dict) -> str | None:
        if self.registry is None:
            return None
        return self.registry.format_call(name, arguments)


def _basic_validate(fn: FunctionInfo, arguments: dict) -> list[str]:
    errors = []
    known = {a.name for a in fn.args}
    for key in arguments:
        if key not in known:
            errors.append(f"{fn.name}: unknown argument {key!r}")
    for arg in fn.args:
        if arg.name not in arguments:
            if arg.required:
                errors.append(f"{fn.name}: missing required argument {arg.name!r}")
            continue
        value = arguments[arg.name]
        if arg.type in ("str", "enum"):
            if not isinstance(value, str):
                errors.append(f"{fn.name}.{arg.name}: expected a string, got {value!r}")
                continue
            if arg.type == "enum" and value not in arg.values:
                errors.append(f"{fn.name}.{arg.name}: {value!r} not in {list(arg.values)}")
            if len(value) > arg.max_length:
                errors.append(f"{fn.name}.{arg.name}: longer than {arg.max_length}")
            if any(ord(c) < 32 for c in value):
                errors.append(f"{fn.name}.{arg.name}: control character")
        elif arg.type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (arg.type == "int" and not float(value).is_integer()):
                errors.append(f"{fn.name}.{arg.name}: expected {arg.type}, got {value!r}")
                continue
            if arg.min is not None and value < arg.min:
                errors.append(f"{fn.name}.{arg.name}: {value} < min {arg.min}")
            if arg.max is not None and value > arg.max:
                errors.append(f"{fn.name}.{arg.name}: {value} > max {arg.max}")
        else:
            errors.append(f"{fn.name}.{arg.name}: unknown type {arg.type!r}")
    return errors


def _from_registry(registry) -> list[FunctionInfo]:
    out = []
    for spec in registry.functions:
        args = []
        for a in spec.args:
            default = getattr(a, "default", MISSING)
            args.append(ArgInfo(name=a.name, type=str(a.type), default=MISSING if _is_missing(default) else default,
                                values=tuple(getattr(a, "values", None) or ()), min=getattr(a, "min", None),
                                max=getattr(a, "max", None), max_length=getattr(a, "max_length", None) or 120,
                                from_image=bool(getattr(a, "from_image", False))))
        out.append(FunctionInfo(spec.name, args))
    return out


def _from_yaml(raw: dict, path: Path) -> tuple[list[FunctionInfo], str]:
    functions = []
    for entry in raw.get("functions") or []:
        args = []
        for a in entry.get("args") or []:
            args.append(ArgInfo(name=a["name"], type=a.get("type", "str"),
                                default=a["default"] if "default" in a else MISSING,
                                values=tuple(a.get("values") or ()), min=a.get("min"), max=a.get("max"),
                                max_length=int(a.get("max_length", 120)), from_image=bool(a.get("from_image", False))))
        functions.append(FunctionInfo(entry["name"], args))
    if not functions:
        raise SchemaError(f"{path}: no functions")
    if not raw.get("no_action"):
        raise SchemaError(f"{path}: `no_action:` (the name of the do-nothing function) is missing")
    return functions, str(raw["no_action"])


def load_schema(path: str | Path, use_registry: bool = True) -> Schema:
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"function file {path} not found (config/functions.yaml defines the action set)")
    if use_registry:
        try:
            from octopus_ros.actions import ActionRegistry  # type: ignore
        except ImportError:
            ActionRegistry = None
        if ActionRegistry is not None:
            registry = ActionRegistry.from_yaml(path)
            no_action = registry.no_action
            no_action = getattr(no_action, "name", no_action)
            return Schema(_from_registry(registry), str(no_action), registry, source="octopus_ros.actions registry")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    functions, no_action = _from_yaml(raw, path)
    return Schema(functions, no_action, None, source=f"{path.name} (basic checks, without octopus_ros.actions)")
