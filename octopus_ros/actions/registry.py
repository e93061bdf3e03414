"""ActionRegistry: the action set of functions.yaml, its functional tokens, and the call-text parser."""
from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import loader
from .call_text import clip, format_call as _format_call
from .numbers import MAX_NUMBER_CHARS
from .specs import MISSING, ArgSpec, ArgumentError, FunctionSpec, RegistryError  # noqa: F401 (re-export)

__all__ = ["ActionRegistry", "ParsedCall", "ParseResult", "default_path", "MISSING", "ArgSpec",
           "ArgumentError", "FunctionSpec", "RegistryError"]


def default_path() -> Path:
    """The packaged config/functions.yaml: in the repository next to this package, else in the ament
    share directory of octopus_ros, else in sys.prefix/share/octopus_ros/config."""
    return loader.find_config_file(loader.FUNCTIONS_FILE)


@dataclass(frozen=True)
class ParsedCall:
    """A valid call: the function and its typed arguments (schema order, defaults filled)."""

    function: FunctionSpec
    arguments: dict
    text: str = ""

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)

    @property
    def typed_arguments(self) -> list[tuple[str, str, str]]:
        """(name, type, value) per argument in schema order, as octopus_ros/Argument wants them: str/enum
        values verbatim, int as a decimal integer, float as a canonical decimal ("10", "10.5")."""
        return [(a.name, a.type, a.value_text(self.arguments[a.name])) for a in self.function.args]


@dataclass(frozen=True)
class ParseResult:
    ok: bool
    call: ParsedCall | None = None
    error: str = ""


def _fail(error: str) -> ParseResult:
    return ParseResult(False, None, error)


class ActionRegistry:
    """The functions an agent can call (config/functions.yaml). Build with from_yaml / from_dict."""

    def __init__(self, functions: list[FunctionSpec], no_action: str, end_token: str, token_format: str,
                 schema_version: int = 1, source: str = "", description: str = "",
                 default_policy: dict | None = None):
        self.functions: list[FunctionSpec] = list(functions)
        self.end_token = end_token
        self.token_format = token_format
        self.schema_version = schema_version
        self.source = source
        self.description = description
        # Safety policy (octopus_ros.safety): configuration of the node, NOT part of canonical()/fingerprint().
        self.default_policy: dict = dict(default_policy or {})
        self._by_name = {f.name: f for f in self.functions}
        self._by_token = {f.token: f for f in self.functions}
        self.no_action: FunctionSpec = self._by_name[no_action]
        head, _, tail = token_format.partition("{index}")
        self._token_head, self._token_tail = head, tail
        self.max_call_chars = max(len(f.token) for f in self.functions) + len(end_token) + \
            max(_max_argument_chars(f) for f in self.functions)
        self._fingerprint: str | None = None

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> "ActionRegistry":
        path = Path(path)
        return cls.from_dict(loader.read_yaml(path), source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> "ActionRegistry":
        data = copy.deepcopy(data)
        loader.check(data, source)
        registry = cls(loader.build_functions(data), no_action=data["no_action"], end_token=data["end_token"],
                       token_format=data["token_format"], schema_version=data["schema_version"],
                       source=source, description=data.get("description", ""),
                       default_policy=data.get("default_policy"))
        problems = loader.example_problems(registry.functions, registry._argument_problems)
        if problems:
            prefix = f"{source}: " if source else ""
            message = problems[0] if len(problems) == 1 else \
                f"{len(problems)} problems:\n  " + "\n  ".join(problems)
            raise RegistryError(prefix + message, problems)
        return registry

    @classmethod
    def default(cls) -> "ActionRegistry":
        """The packaged default action set (default_path())."""
        return cls.from_yaml(default_path())

    # -- lookup -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.functions)

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self.functions)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __repr__(self) -> str:
        return f"ActionRegistry({len(self.functions)} functions, source={self.source!r})"

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.functions]

    def by_name(self, name: str) -> FunctionSpec:
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise KeyError(f"unknown function {name!r} (known: {', '.join(self.names)})") from None

    def by_index(self, index: int) -> FunctionSpec:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.functions):
            raise IndexError(f"no function with index {index!r} (valid: 0..{len(self.functions) - 1})")
        return self.functions[index]

    def by_token(self, token: str) -> FunctionSpec | None:
        return self._by_token.get(token)

    @property
    def tokens(self) -> list[str]:
        """The functional tokens, in index order."""
        return [f.token for f in self.functions]

    @property
    def special_tokens(self) -> list[str]:
        """Every token to add to a tokenizer: the functional tokens, then the end token."""
        return self.tokens + [self.end_token]

    # -- arguments ----------------------------------------------------------------------------------
    def _function(self, name: str | FunctionSpec) -> FunctionSpec | None:
        if isinstance(name, FunctionSpec):
            return self._by_name.get(name.name) if self._by_name.get(name.name) is name else None
        return self._by_name.get(name) if isinstance(name, str) else None

    def _normalize(self, function: FunctionSpec, arguments: Any) -> tuple[dict, list[str]]:
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            return {}, [f"arguments must be a mapping of names to values, got {type(arguments).__name__}"]
        errors = []
        known = set(function.arg_names)
        for key in arguments:
            if key not in known:
                takes = ", ".join(function.arg_names) or "no arguments"
                errors.append(f"unknown argument {key!r} ({function.name} takes: {takes})")
        out = {}
        for arg in function.args:
            if arg.name not in arguments:
                if arg.required:
                    errors.append(f"missing required argument {arg.name!r}")
                else:
                    out[arg.name] = arg.default
                continue
            value, error = arg.check_value(arguments[arg.name])
            if error:
                errors.append(f"argument {arg.name!r}: {error}")
            else:
                out[arg.name] = value
        return out, errors

    def _argument_problems(self, function: FunctionSpec, arguments: Any) -> list[str]:
        return self._normalize(function, arguments)[1]

    def validate_arguments(self, name: str | FunctionSpec, arguments: Any) -> list[str]:
        """Problems with `arguments` for function `name` (empty list = valid)."""
        function = self._function(name)
        if function is None:
            return [f"unknown function {getattr(name, 'name', name)!r}"]
        return self._normalize(function, arguments)[1]

    def normalize_arguments(self, name: str | FunctionSpec, arguments: Any) -> dict:
        """The typed arguments in schema order with defaults filled (what parse() would return for the
        call); raises ArgumentError when they are invalid."""
        function = self._function(name)
        if function is None:
            raise ArgumentError(f"unknown function {getattr(name, 'name', name)!r}")
        out, errors = self._normalize(function, arguments)
        if errors:
            raise ArgumentError(f"{function.name}: " + "; ".join(errors), errors)
        return out

    def format_call(self, name: str | FunctionSpec, arguments: Any = None) -> str:
        """The canonical call text, e.g. "<nexa_1>('forward', 10)<nexa_end>". Raises ArgumentError."""
        function = self._function(name)
        if function is None:
            raise ArgumentError(f"unknown function {getattr(name, 'name', name)!r}")
        return _format_call(function, self.normalize_arguments(function, arguments), self.end_token)

    # -- parsing ------------------------------------------------------------------------------------
    def parse(self, text: Any) -> ParseResult:
        """Parse a whole call text ("<nexa_i>(...)<nexa_end>", surrounding whitespace ignored). Never
        raises: any problem gives ParseResult(ok=False, error=...)."""
        try:
            return self._parse(text)
        except Exception as e:  # a bug; still never raise into the node
            return _fail(f"internal error while parsing the call text: {type(e).__name__}: {e}")

    def _parse(self, text: Any) -> ParseResult:
        if isinstance(text, (bytes, bytearray, memoryview)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as e:
                return _fail(f"the call text is not valid UTF-8: {e}")
        if not isinstance(text, str):
            return _fail(f"expected the call text as a str, got {type(text).__name__}")
        text = text.strip()
        if not text:
            return _fail("empty call text")
        if len(text) > self.max_call_chars:
            return _fail(f"call text too long ({len(text)} characters; no call of this action set is "
                         f"longer than {self.max_call_chars})")
        function = self._match_token(text)
        if function is None:
            return _fail(self._token_error(text))
        rest = text[len(function.token):]
        end = self.end_token
        if not rest.endswith(end):
            at = rest.find(end)
            if at >= 0:
                return _fail(f"unexpected text after {end}: {clip(rest[at + len(end):])!r}")
            return _fail(f"{function.name}: missing the end token {end} (got {clip(text, 80)!r})")
        arguments, error = function.grammar.parse(rest[:-len(end)], offset=len(function.token))
        if error:
            return _fail(error)
        return ParseResult(True, ParsedCall(function, arguments, text), "")

    def _match_token(self, text: str) -> FunctionSpec | None:
        head, tail = self._token_head, self._token_tail
        if text.startswith(head):
            i = len(head)
            j = i
            while j < len(text) and j - i < 12 and "0" <= text[j] <= "9":
                j += 1
            candidate = self._by_token.get(text[:j + len(tail)]) if text.startswith(tail, j) else None
            if candidate is not None:
                return candidate
        for function in self.functions:  # general fallback (unusual token formats)
            if text.startswith(function.token):
                return function
        return None

    def _token_error(self, text: str) -> str:
        n = len(self.functions)
        known = f"this action set has {n} function{'s' if n != 1 else ''}: " \
                f"{self.functions[0].token}..{self.functions[-1].token}"
        head, tail = self._token_head, self._token_tail
        if head and text.startswith(head):
            stop = text.find(tail, len(head)) if tail else -1
            token = text[:stop + len(tail)] if 0 <= stop < 40 else clip(text, 20)
            return f"unknown functional token {token!r} ({known})"
        return f"the call text must start with a functional token ({known}), got {clip(text)!r}"

    # -- identity -----------------------------------------------------------------------------------
    def canonical(self) -> dict:
        """What a trained model depends on: tokens, function names and order, argument names, types,
        values, defaults and ranges. Descriptions, categories, examples, from_image and policies are
        left out, so editing them does not invalidate a checkpoint."""
        functions = []
        for f in self.functions:
            args = []
            for a in f.args:
                entry = {"name": a.name, "type": a.type}
                if not a.required:
                    entry["default"] = a.default
                if a.type == "enum":
                    entry["values"] = list(a.values)
                if a.min is not None:
                    entry["min"] = a.min
                if a.max is not None:
                    entry["max"] = a.max
                if a.type == "str":
                    entry["max_length"] = a.max_length
                args.append(entry)
            functions.append({"name": f.name, "args": args})
        return {"token_format": self.token_format, "end_token": self.end_token,
                "no_action": self.no_action.name, "functions": functions}

    def fingerprint(self) -> str:
        """sha256 (hex) of canonical() as sorted, compact JSON."""
        if self._fingerprint is None:
            blob = json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            self._fingerprint = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        return self._fingerprint


def _max_argument_chars(function: FunctionSpec) -> int:
    """An upper bound on the length of any valid argument text of `function`."""
    total = 2 + 2 * max(0, len(function.args) - 1)
    for a in function.args:
        if a.type == "str":
            total += 2 * a.max_length + 2
        elif a.type == "enum":
            total += 2 * max(len(v) for v in a.values) + 2
        else:
            total += MAX_NUMBER_CHARS
    return total
