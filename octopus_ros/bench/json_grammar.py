"""Schema-constrained JSON for the prompted baseline: `{"function": NAME, "arguments": {...}}`.

The baseline LM writes a JSON function call, constrained the way grammar/schema-constrained decoders
(llama.cpp GBNF from a JSON schema, outlines, the llama_ros / ROSA / RAI set-ups) constrain it:

    {"function": "<one of the registry's names>", "arguments": {"<arg>": <value>, ...}}

* the function name is one of the registry's names (a character trie over the names);
* the arguments are the chosen function's, in schema order; optional ones may be left out, required
  ones may not; enum values are one of the allowed strings; str values are JSON strings within
  `max_length` with no control characters; int/float values are JSON numbers (no exponent) that can
  still reach the argument's [min, max] range (octopus_ros.actions.numbers.NumberRule);
* separators are fixed (`", "` and `": "`), as with a schema grammar that pins whitespace.

The checker is an incremental character automaton: `feed(state, text)` returns the new state or None
(text not allowed), `complete(state)` says whether a whole call was written, and `forced(state)`
returns the text every continuation must start with (structure, the rest of a name once it is
unique), which the decoder may append without asking the model ("jump-forward" decoding).
States are small immutable tuples, so trying a candidate token costs no copy.
"""
from __future__ import annotations

import json
from typing import Optional

from ..actions import ActionRegistry
from ..actions.numbers import MAX_NUMBER_CHARS
from ..actions.specs import FORBIDDEN_CHARS

PREFIX_TEXT = '{"function": "'
ARGS_OPEN = '", "arguments": {'
CLOSE = "}}"

# State kinds
_CHOICE, _STRING, _NUMBER, _DONE = 0, 1, 2, 3
# Continuations of a CHOICE candidate: ("names",) -> the function name; ("name", fi) -> after the
# function name; ("value", fi, ai) -> the value of argument ai; ("string", fi, ai) -> the body of a
# string value; ("after", fi, ai) -> after an enum value; ("done",) -> the call is complete.

State = tuple


def _json_text(value: str) -> str:
    """A string as it appears between the quotes of a JSON string (our canonical escaping)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


class JsonCallGrammar:
    """The language of JSON calls for one action registry (see the module docstring)."""

    def __init__(self, registry: ActionRegistry):
        self.registry = registry
        self.functions = list(registry.functions)
        names = tuple((_json_text(f.name) + ARGS_OPEN, ("name", i)) for i, f in enumerate(self.functions))
        self._start: State = (_CHOICE, ((PREFIX_TEXT, ("names",)),), "")
        self._names_choice: State = (_CHOICE, names, "")

    # ---- public -----------------------------------------------------------------------------------
    def start(self) -> State:
        return self._start

    def feed(self, state: Optional[State], text: str) -> Optional[State]:
        """The state after `text`, or None when no valid call starts with what was written plus `text`."""
        for ch in text:
            if state is None:
                return None
            state = self._step(state, ch)
        return state

    @staticmethod
    def complete(state: Optional[State]) -> bool:
        return state is not None and state[0] == _DONE

    def forced(self, state: State) -> str:
        """The longest text that every valid continuation of `state` starts with."""
        out = []
        while state[0] == _CHOICE:
            candidates, matched = state[1], state[2]
            rests = [c[0][len(matched):] for c in candidates]
            common = _common_prefix(rests)
            if not common:
                break
            out.append(common)
            state = self.feed(state, common)
            if state is None:  # cannot happen: every candidate continues with `common`
                break
        return "".join(out)

    def function_of(self, state: State) -> Optional[int]:
        """Index of the function chosen so far (None while the name is not finished)."""
        return state[3] if len(state) > 3 else None

    # ---- the automaton ----------------------------------------------------------------------------
    def _step(self, state: State, ch: str) -> Optional[State]:
        kind = state[0]
        if kind == _CHOICE:
            return self._step_choice(state, ch)
        if kind == _STRING:
            return self._step_string(state, ch)
        if kind == _NUMBER:
            return self._step_number(state, ch)
        return None  # _DONE: nothing may follow the call

    def _step_choice(self, state: State, ch: str) -> Optional[State]:
        candidates, matched = state[1], state[2] + ch
        alive = tuple(c for c in candidates if c[0].startswith(matched))
        if not alive:
            return None
        if len(alive) == 1 and alive[0][0] == matched:
            return self._enter(alive[0][1], state)
        # (no candidate is a proper prefix of another: names end with '"', keys with '": ')
        return (_CHOICE, alive, matched) + tuple(state[3:])

    def _enter(self, cont: tuple, state: State) -> State:
        what = cont[0]
        if what == "names":
            return self._names_choice
        if what == "done":
            return (_DONE,)
        if what == "name":
            return self._args_choice(cont[1], 0, True)
        if what == "value":
            return self._value_state(cont[1], cont[2])
        if what == "string":  # (kind, fi, ai, escaped, length)
            return (_STRING, cont[1], cont[2], False, 0)
        if what == "after":  # an enum value was written
            return self._after_value(cont[1], cont[2])
        raise AssertionError(cont)

    def _args_choice(self, fi: int, next_arg: int, first: bool) -> State:
        """After the '{' of the arguments (first=True) or after a value: the next key, or the close."""
        args = self.functions[fi].args
        candidates = []
        sep = "" if first else ", "
        for ai in range(next_arg, len(args)):
            candidates.append((f'{sep}"{_json_text(args[ai].name)}": ', ("value", fi, ai)))
            if args[ai].required:
                break
        else:
            candidates.append((CLOSE, ("done",)))
        return (_CHOICE, tuple(candidates), "", fi)

    def _value_state(self, fi: int, ai: int) -> State:
        arg = self.functions[fi].args[ai]
        if arg.type == "enum":
            options = tuple((f'"{_json_text(v)}"', ("after", fi, ai)) for v in arg.values)
            return (_CHOICE, options, "", fi)
        if arg.type == "str":  # the opening quote, then the string body
            return (_CHOICE, (('"', ("string", fi, ai)),), "", fi)
        return (_NUMBER, fi, ai, "")

    def _after_value(self, fi: int, ai: int) -> State:
        return self._args_choice(fi, ai + 1, False)

    def _step_string(self, state: State, ch: str) -> Optional[State]:
        _, fi, ai, escaped, length = state
        arg = self.functions[fi].args[ai]
        if escaped:
            if ch not in '"\\/':
                return None
            return (_STRING, fi, ai, False, length + 1) if length + 1 <= arg.max_length else None
        if ch == '"':
            return self._after_value(fi, ai)
        if ch == "\\":
            return (_STRING, fi, ai, True, length)
        if FORBIDDEN_CHARS.match(ch) or length + 1 > arg.max_length:
            return None
        return (_STRING, fi, ai, False, length + 1)

    def _step_number(self, state: State, ch: str) -> Optional[State]:
        _, fi, ai, literal = state
        rule = self.functions[fi].args[ai].number_rule
        if ch in "0123456789.-":
            longer = literal + ch
            if len(longer) > MAX_NUMBER_CHARS or not rule.prefix_ok(longer):
                return None
            return (_NUMBER, fi, ai, longer)
        # any other character ends the number: it must be complete and in range
        if not literal or rule.value(literal)[1]:
            return None
        return self._step(self._after_value(fi, ai), ch)


def _common_prefix(texts: list[str]) -> str:
    if not texts:
        return ""
    first = min(texts)
    last = max(texts)
    n = 0
    while n < len(first) and n < len(last) and first[n] == last[n]:
        n += 1
    return first[:n]


def parse_json_call(registry: ActionRegistry, text: str) -> tuple[str, dict, str]:
    """(function name, arguments with defaults filled, "") for a complete JSON call, else ("", {}, reason).
    The same normalisation as the functional-token path (registry.normalize_arguments)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return "", {}, f"not JSON: {exc}"
    if not isinstance(data, dict) or "function" not in data:
        return "", {}, "not a {\"function\": ..., \"arguments\": {...}} object"
    name = data.get("function")
    if not isinstance(name, str) or name not in registry:
        return "", {}, f"unknown function {name!r}"
    try:
        arguments = registry.normalize_arguments(name, data.get("arguments") or {})
    except Exception as exc:  # ArgumentError
        return name, {}, str(exc)
    return name, arguments, ""
