"""Which string arguments are spans of the command: learned from the training data, enforced when decoding.

In the default data a device, a room, a recipient or a search query is always written as it was said, so
the value is a piece of the command (for example 'kitchen' in "switch on the kitchen lights"). When every
training example of a function (text-only, or with an image) has the argument's value inside its command,
the decoder may only write a value that is a piece of the command for that argument. It rules out values
the user never said (36 of the 208 wrong copied values of session 4's decoder on the test split; see
docs/model/evaluation.md, Session 6), and it adds no parameters. Arguments read from the picture are never constrained:
they are not in the command, so they never pass the test.
"""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from ..actions import ActionRegistry
from ..model.spelling import command_words
from ..model.wording import (CommandWording, frame_phrases, pointing_phrases, said_values, singular_args,
                             value_phrases)
from .cases import Case, read_cases

MIN_EXAMPLES = 20   # fewer examples than this is not evidence that a value is always copied
MODALITIES = ("text", "image")


def modality(has_image: bool) -> str:
    return "image" if has_image else "text"


def span_rules(cases: list[Case], registry: ActionRegistry) -> dict[str, dict[str, list[str]]]:
    """{"text": {function: [argument, ...]}, "image": {...}}: the string arguments whose value is a
    case-insensitive piece of the command in all of the (at least MIN_EXAMPLES) examples of that function
    and modality. An example that leaves the argument out, or gives a non-string, counts against it."""
    seen: dict[tuple, int] = defaultdict(int)
    broken: set[tuple] = set()
    for case in cases:
        function = registry.by_name(case.function)
        text = case.text.lower()
        for arg in function.args:
            if arg.type != "str":
                continue
            key = (modality(case.image is not None), function.name, arg.name)
            seen[key] += 1
            value = case.arguments.get(arg.name)
            if not isinstance(value, str) or value.lower() not in text:
                broken.add(key)
    rules: dict[str, dict[str, list[str]]] = {m: {} for m in MODALITIES}
    for (mode, function, arg), count in sorted(seen.items()):
        if count >= MIN_EXAMPLES and (mode, function, arg) not in broken:
            rules[mode].setdefault(function, []).append(arg)
    return rules


def train_span_rules(data: str | Path, registry: ActionRegistry) -> dict[str, dict[str, list[str]]]:
    return span_rules(read_cases(Path(data) / "train.jsonl"), registry)


def train_wording(data: str | Path, registry: ActionRegistry) -> dict:
    """The training split's frame phrases per function, the phrases inside its values, the phrases its
    commands point at the picture with, the arguments it writes in the singular and the values its commands
    say (model/wording.py), and the words its commands say (model/spelling.py), as the checkpoint stores them
    ({"frame_phrases": ..., "value_phrases": ..., "pointing_phrases": ..., "singular_args": ..., "said_values":
    ..., "command_words": ...})."""
    cases = read_cases(Path(data) / "train.jsonl")
    examples = [(c.function, c.wording_text, c.arguments) for c in cases]
    strings = {f.name: {a.name for a in f.args if a.type == "str"} for f in registry.functions}
    pictured = {f.name for f in registry.functions if any(a.from_image for a in f.args)}
    pointing = pointing_phrases(((c.function, c.wording_text, c.arguments, c.image_args) for c in cases), pictured)
    return {"frame_phrases": frame_phrases(examples), "value_phrases": value_phrases(examples),
            "pointing_phrases": pointing, "singular_args": _string_args(singular_args(examples), registry),
            "said_values": _string_values(said_values(examples), registry),
            # only free-text values are left out of the counts: an enum's value is the command's own word
            "command_words": command_words((c.wording_text, {k: v for k, v in c.arguments.items()
                                                             if k in strings[c.function]}) for c in cases)}


def _string_args(found: dict[str, list[str]], registry: ActionRegistry) -> dict[str, list[str]]:
    """`found` without the arguments that are not free text (an enum's values are the schema's to write)."""
    strings = {(f.name, a.name) for f in registry.functions for a in f.args if a.type == "str"}
    kept = {name: [a for a in args if (name, a) in strings] for name, args in found.items()}
    return {name: args for name, args in kept.items() if args}


def _string_values(found: dict[str, dict[str, list[str]]], registry: ActionRegistry) -> dict:
    """`found` ({function: {argument: values}}) without the arguments that are not free text."""
    kept = _string_args({name: list(args) for name, args in found.items()}, registry)
    return {name: {a: found[name][a] for a in args} for name, args in kept.items()}


def unseen_value_cuts(cases: list[Case], registry: ActionRegistry, folds: int = 5, seed: int = 0,
                      samples: int = 8) -> dict:
    """How often trimming (model/wording.py) would cut a value it never saw: the training split's distinct
    (function, argument, value) triples are dealt into `folds` folds; for each fold the phrases are learned from
    the commands that hold none of its values, then applied to the copied values of the commands that do.
    Every correct value changed is a value the shipped rule would break. No validation or test case is read.
    Returns {"values": checked, "cut": changed, "rate": cut / values, "samples": distinct (function, value,
    trimmed)}. Session 14: 65 of 14,856 (0.4 %) on the default split."""
    def string_values(case):
        return [(a, v) for a, v in case.arguments.items() if isinstance(v, str) and v]

    triples = sorted({(c.function, a, v) for c in cases for a, v in string_values(c)})
    random.Random(seed).shuffle(triples)
    fold_of = {t: i % folds for i, t in enumerate(triples)}
    checked = cut = 0
    shown: list[tuple[str, str, str]] = []
    for k in range(folds):
        held = [c for c in cases if any(fold_of[(c.function, a, v)] == k for a, v in string_values(c))]
        learned = [(c.function, c.text, c.arguments) for c in cases
                   if all(fold_of[(c.function, a, v)] != k for a, v in string_values(c))]
        wording = CommandWording(frame_phrases(learned), value_phrases(learned))
        for case in held:
            unseen = {a: v for a, v in string_values(case) if fold_of[(case.function, a, v)] == k
                      and v.lower() in case.text.lower()}
            if not unseen:
                continue
            trimmed = wording.trimmed(registry.by_name(case.function), unseen, case.text)
            for argument, value in unseen.items():
                checked += 1
                if trimmed[argument] != value:
                    cut += 1
                    example = (case.function, value, trimmed[argument])
                    if len(shown) < samples and example not in shown:
                        shown.append(example)
    return {"values": checked, "cut": cut, "rate": cut / checked if checked else 0.0, "samples": shown}


def separation_changes(cases: list[Case], registry: ActionRegistry, samples: int = 8) -> dict:
    """How many of the training split's own calls CommandWording.separated would change (each is a correct
    call it would break), with the span rules and phrases learned from those same cases.
    Returns {"calls": checked, "changed": n, "samples": [(command, arguments, changed to)]}."""
    rules = span_rules(cases, registry)
    examples = [(c.function, c.wording_text, c.arguments) for c in cases]
    wording = CommandWording(frame_phrases(examples), value_phrases(examples))
    checked = changed = 0
    shown = []
    for case in cases:
        function = registry.by_name(case.function)
        names = rules[modality(case.image is not None)].get(function.name, [])
        spans = frozenset(i for i, a in enumerate(function.args) if a.name in names)
        checked += 1
        out = wording.separated(function, case.arguments, case.text, spans)
        if out != case.arguments:
            changed += 1
            if len(shown) < samples:
                shown.append((case.text, case.arguments, out))
    return {"calls": checked, "changed": changed, "samples": shown}
