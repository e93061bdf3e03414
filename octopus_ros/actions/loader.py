"""Reading and checking an action set: YAML -> JSON Schema -> semantic checks -> FunctionSpecs.

Every problem is reported with the path of the bad field ("functions[3].args[1].type: ..."), all
semantic problems at once (RegistryError.problems).
"""
from __future__ import annotations

import json
import math
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .numbers import MAX_NUMBER_CHARS, format_number
from .specs import FORBIDDEN_CHARS, MISSING, ArgSpec, FunctionSpec, RegistryError, describe_char

PACKAGE = "octopus_ros"
SCHEMA_FILE = "functions.schema.json"
FUNCTIONS_FILE = "functions.yaml"


# -- where the packaged config lives ----------------------------------------------------------------
def config_dirs() -> list[Path]:
    """Candidate config directories, in order: the repository (next to this package), the ament share
    directory (a colcon install), sys.prefix/share/octopus_ros/config."""
    dirs = [Path(__file__).resolve().parents[2] / "config"]
    try:
        from ament_index_python.packages import get_package_share_directory
        dirs.append(Path(get_package_share_directory(PACKAGE)) / "config")
    except Exception:  # not importable, or the package is not in the ament index
        pass
    dirs.append(Path(sys.prefix) / "share" / PACKAGE / "config")
    return dirs


def find_config_file(name: str) -> Path:
    tried = []
    for d in config_dirs():
        path = d / name
        if path.is_file():
            return path
        tried.append(str(path))
    raise FileNotFoundError(f"cannot find {name}; looked in: " + ", ".join(tried))


@lru_cache(maxsize=1)
def _validator():
    import jsonschema
    path = find_config_file(SCHEMA_FILE)
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# -- YAML -------------------------------------------------------------------------------------------
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: let PyYAML report it
            break
        if duplicate:
            raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                    f"found duplicate key {key!r}", key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"{path}: functions file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RegistryError(f"{path}: cannot read the functions file: {e}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise RegistryError(f"{path}: invalid YAML{where}: {problem}") from None


# -- validation -------------------------------------------------------------------------------------
def format_path(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "(top level)"


def schema_problems(data: Any) -> list[str]:
    """JSON Schema problems, the most relevant first, each as "path: message"."""
    import jsonschema
    validator = _validator()
    errors = list(validator.iter_errors(data))
    if not errors:
        return []
    best = jsonschema.exceptions.best_match(errors)
    ordered = [best] + [e for e in errors if e is not best]
    return [_describe_schema_error(e) for e in ordered]


def _describe_schema_error(error) -> str:
    message = error.message
    bad = error.instance
    if isinstance(bad, bool) and error.validator in ("type", "enum", "const"):
        message += " (YAML reads yes/no/on/off/true/false as booleans: quote the value, e.g. 'no')"
    elif bad is None and error.validator == "type":
        message += " (an empty YAML value is null)"
    return f"{format_path(error.absolute_path)}: {message}"


def semantic_problems(data: dict) -> list[str]:
    """Checks beyond the schema (data must already satisfy the schema)."""
    problems: list[str] = []
    functions = data["functions"]
    seen: dict[str, int] = {}
    for i, f in enumerate(functions):
        where = f"functions[{i}]"
        if f["name"] in seen:
            problems.append(f"{where}.name: duplicate function name {f['name']!r} "
                            f"(also functions[{seen[f['name']]}])")
        else:
            seen[f["name"]] = i
        problems += _arg_problems(where, f.get("args", []))
    if data["no_action"] not in seen:
        problems.append(f"no_action: {data['no_action']!r} is not the name of a function in `functions`")
    else:
        i = seen[data["no_action"]]
        if functions[i].get("args"):
            problems.append(f"functions[{i}].args: the no_action function {data['no_action']!r} "
                            "must take no arguments")
    problems += _token_problems(data)
    return problems


def _arg_problems(where: str, args: list) -> list[str]:
    problems = []
    names: dict[str, int] = {}
    optional_seen = None
    for j, a in enumerate(args):
        here = f"{where}.args[{j}]"
        name, t = a["name"], a["type"]
        if name in names:
            problems.append(f"{here}.name: duplicate argument name {name!r} (also {where}.args[{names[name]}])")
        names.setdefault(name, j)
        for key, allowed in (("values", ("enum",)), ("min", ("int", "float")), ("max", ("int", "float")),
                             ("max_length", ("str",)), ("from_image", ("str", "enum"))):
            if key in a and t not in allowed:
                problems.append(f"{here}.{key}: not allowed for type {t!r} (only for {' / '.join(allowed)})")
        for key in ("min", "max"):
            if key in a and t in ("int", "float"):
                v = a[key]
                if t == "int" and not isinstance(v, int):
                    problems.append(f"{here}.{key}: {v!r} is not an integer (the argument is an int)")
                elif not math.isfinite(v):
                    problems.append(f"{here}.{key}: {v!r} is not a finite number")
                elif t == "float" and len(format_number(v, "float")) > MAX_NUMBER_CHARS:
                    problems.append(f"{here}.{key}: {v!r} needs more than {MAX_NUMBER_CHARS} characters")
        if t in ("int", "float") and not problems_for(here, problems) and "min" in a and "max" in a \
                and a["min"] > a["max"]:
            problems.append(f"{here}: min {a['min']!r} is greater than max {a['max']!r}")
        if t == "enum" and "values" in a:
            for k, v in enumerate(a["values"]):
                bad = FORBIDDEN_CHARS.search(v)
                if bad:
                    problems.append(f"{here}.values[{k}]: {v!r} contains the control character "
                                    f"{describe_char(bad.group())}")
        if "default" in a:
            if optional_seen is None:
                optional_seen = name
            if not problems_for(here, problems):
                _, error = build_arg(a).check_value(a["default"])
                if error:
                    problems.append(f"{here}.default: {error}")
        elif optional_seen is not None:
            problems.append(f"{here}: required argument {name!r} follows the optional argument "
                            f"{optional_seen!r} (put required arguments first)")
    return problems


def problems_for(prefix: str, problems: list[str]) -> bool:
    return any(p.startswith(prefix + ".") or p.startswith(prefix + ":") for p in problems)


def _token_problems(data: dict) -> list[str]:
    problems = []
    fmt, end = data["token_format"], data["end_token"]
    if fmt.count("{index}") != 1:
        problems.append("token_format: must contain {index} exactly once")
        return problems
    tokens = [token_for(fmt, i) for i in range(len(data["functions"]))]
    special = tokens + [end]
    # No token may be a prefix of another: the parser reads the token off the start of the call text.
    ordered = sorted(set(special))
    if len(ordered) != len(special):
        problems.append(f"end_token: {end!r} is also a functional token")
    for a, b in zip(ordered, ordered[1:]):
        if b.startswith(a):
            problems.append(f"token_format: the token {a!r} is a prefix of {b!r} (end it with a delimiter, "
                            "like <nexa_{index}>)")
            break
    return problems


def example_problems(functions: list[FunctionSpec], validate) -> list[str]:
    problems = []
    for f in functions:
        for k, example in enumerate(f.examples):
            for error in validate(f, example.get("arguments", {})):
                problems.append(f"functions[{f.index}].examples[{k}].arguments: {error}")
    return problems


def token_for(token_format: str, index: int) -> str:
    return token_format.replace("{index}", str(index))


# -- building the specs -----------------------------------------------------------------------------
def build_arg(a: dict) -> ArgSpec:
    t = a["type"]
    default = a.get("default", MISSING)
    if t == "float" and isinstance(default, int) and not isinstance(default, bool):
        default = float(default)
    bounds = {}
    for key in ("min", "max"):
        if key in a:
            bounds[key] = float(a[key]) if t == "float" else a[key]
    return ArgSpec(name=a["name"], type=t, default=default, values=tuple(a.get("values", ())),
                   min=bounds.get("min"), max=bounds.get("max"), max_length=a.get("max_length"),
                   from_image=bool(a.get("from_image", False)), description=a.get("description", ""))


def build_functions(data: dict) -> list[FunctionSpec]:
    out = []
    for i, f in enumerate(data["functions"]):
        out.append(FunctionSpec(
            name=f["name"], index=i, token=token_for(data["token_format"], i),
            description=f.get("description", ""), category=f.get("category", ""),
            args=tuple(build_arg(a) for a in f.get("args", [])),
            examples=tuple(dict(e) for e in f.get("examples", [])),
            policy=dict(f["policy"]) if "policy" in f else None))
    return out


def check(data: Any, source: str) -> None:
    """Raise RegistryError unless `data` passes the schema and the semantic checks."""
    prefix = f"{source}: " if source else ""
    problems = schema_problems(data)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" \
            if len(problems) > 1 else ""
        raise RegistryError(prefix + problems[0] + more, problems)
    problems = semantic_problems(data)
    if problems:
        message = problems[0] if len(problems) == 1 else \
            f"{len(problems)} problems:\n  " + "\n  ".join(problems)
        raise RegistryError(prefix + message, problems)
