"""The action registry: functions.yaml -> functional tokens, argument schemas, call-text parsing and the
prefix grammar of the constrained decoder. Pure Python (pyyaml + jsonschema); no torch, no ROS.

    registry = ActionRegistry.from_yaml(default_path())
    registry.format_call("move", {"direction": "forward", "distance_m": 10})  # "<nexa_1>('forward', 10)<nexa_end>"
    result = registry.parse("<nexa_1>('forward', 10)<nexa_end>")              # never raises
    registry.by_name("move").grammar.check("('forw")                          # PrefixState.PREFIX
"""
from .call_text import escape, format_arguments, quote_string, unescape
from .grammar import CallGrammar, PrefixState
from .numbers import MAX_NUMBER_CHARS, format_number
from .registry import ActionRegistry, ParseResult, ParsedCall, default_path
from .specs import DEFAULT_MAX_LENGTH, MISSING, TYPES, ArgSpec, ArgumentError, FunctionSpec, RegistryError

__all__ = [
    "ActionRegistry", "ArgSpec", "ArgumentError", "CallGrammar", "DEFAULT_MAX_LENGTH", "FunctionSpec",
    "MAX_NUMBER_CHARS", "MISSING", "ParseResult", "ParsedCall", "PrefixState", "RegistryError", "TYPES",
    "default_path", "escape", "format_arguments", "format_number", "quote_string", "unescape",
]
