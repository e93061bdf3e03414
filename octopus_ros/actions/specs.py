"""The data model of an action set: functions, their arguments, and the errors of the registry."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .call_text import quote_string
from .numbers import MAX_NUMBER_CHARS, NumberRule, format_number

TYPES = ("str", "int", "float", "enum")
DEFAULT_MAX_LENGTH = 120  # characters of a str value, when the YAML does not say

# Characters a str/enum value may not contain: C0/C1 control characters, lone surrogates (not
# encodable as UTF-8, so not publishable in a ROS string) and the Unicode line/paragraph separators.
FORBIDDEN_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


class _Missing:
    """Marks an argument without a default (a required argument)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_Missing, ())


MISSING: Any = _Missing()


class RegistryError(ValueError):
    """A functions file (or dict) is not a valid action set. `problems` lists every problem found,
    each starting with the path of the bad field, e.g. "functions[3].args[1].type: ..."."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


class ArgumentError(ValueError):
    """Arguments given to format_call() do not satisfy the function's schema. `problems` lists them."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


def describe_char(ch: str) -> str:
    return f"U+{ord(ch):04X}"


@dataclass(eq=False)
class ArgSpec:
    """One argument of a function. `default` is MISSING for a required argument."""

    name: str
    type: str
    default: Any = MISSING
    values: tuple[str, ...] = ()
    min: int | float | None = None
    max: int | float | None = None
    max_length: int | None = None
    from_image: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"argument {self.name!r}: unknown type {self.type!r}")
        self.values = tuple(self.values)
        if self.type == "str" and self.max_length is None:
            self.max_length = DEFAULT_MAX_LENGTH
        self._values_set = frozenset(self.values)

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @cached_property
    def number_rule(self) -> NumberRule | None:
        if self.type in ("int", "float"):
            return NumberRule(self.type, self.min, self.max)
        return None

    def check_value(self, value: Any) -> tuple[Any, str]:
        """(normalised value, "") when `value` is valid for this argument, else (None, reason).
        Normalisation: an int given for a float argument becomes a float."""
        t = self.type
        if t == "str":
            if not isinstance(value, str):
                return None, f"expected a string, got {_type_name(value)} {value!r}"
            if len(value) > self.max_length:
                return None, f"string too long ({len(value)} characters, max_length {self.max_length})"
            bad = FORBIDDEN_CHARS.search(value)
            if bad:
                return None, f"string contains the control character {describe_char(bad.group())}"
            return value, ""
        if t == "enum":
            if not isinstance(value, str) or value not in self._values_set:
                return None, f"{value!r} is not one of {list(self.values)}"
            return value, ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"expected {'an integer' if t == 'int' else 'a number'}, got {_type_name(value)} {value!r}"
        if t == "int":
            if not isinstance(value, int):
                return None, f"expected an integer, got {value!r}"
        elif not math.isfinite(value):
            return None, f"{value!r} is not a finite number"
        literal = format_number(value, t)
        if len(literal) > MAX_NUMBER_CHARS:
            return None, (f"{value!r} needs {len(literal)} characters as a decimal literal "
                          f"(max {MAX_NUMBER_CHARS})")
        checked, error = self.number_rule.value(literal)
        if error:
            return None, error
        return (int(value) if t == "int" else float(value)), ""

    def format_value(self, value: Any) -> str:
        """The call-text literal of an already valid value."""
        if self.type in ("str", "enum"):
            return quote_string(value)
        return format_number(value, self.type)

    def value_text(self, value: Any) -> str:
        """The value as written in octopus_ros/Argument.value: str/enum verbatim, numbers as literals."""
        if self.type in ("str", "enum"):
            return value
        return format_number(value, self.type)


@dataclass(eq=False)
class FunctionSpec:
    """One function of the action set; `index` is its position, `token` its functional token."""

    name: str
    index: int
    token: str
    description: str = ""
    category: str = ""
    args: tuple[ArgSpec, ...] = ()
    examples: tuple[dict, ...] = ()
    policy: dict | None = None
    _by_name: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.args = tuple(self.args)
        self.examples = tuple(self.examples)
        self._by_name = {a.name: a for a in self.args}

    @property
    def arg_names(self) -> list[str]:
        return [a.name for a in self.args]

    @property
    def required_args(self) -> list[ArgSpec]:
        return [a for a in self.args if a.required]

    def arg(self, name: str) -> ArgSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"function {self.name!r} has no argument {name!r} "
                           f"(arguments: {', '.join(self.arg_names) or 'none'})") from None

    @cached_property
    def grammar(self):
        """The CallGrammar of this function's argument text (what follows its functional token)."""
        from .grammar import CallGrammar
        return CallGrammar(self)


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__
