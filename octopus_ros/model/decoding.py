"""Constrained decoding: the output is always a schema-valid call, or no_action with a reason.

Step 1 scores only the functional tokens (one decoding step chooses the action; its softmax probability
is the confidence). Then argument tokens are chosen greedily among candidate tokens, in logit order,
skipping any token that would make the text after the functional token invalid for that function's
grammar (octopus_ros.actions CallGrammar). Decoding stops as soon as the grammar says COMPLETE.
A quoted value never starts with whitespace: the command's own tokens carry the "▁word" form of each word,
which the grammar accepts inside quotes but no expected value has (" attic" is not "attic").
The arguments in `span_args` of the chosen function (training.span_rules: those the training data always
copies from the command) must also stay a case-insensitive piece of the command while they are written.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..actions import ActionRegistry, PrefixState
from ..actions.call_text import unescape
from .octopus import OctopusModel

MAX_CANDIDATE_SCAN = 256  # tokens tried per step before giving up on that step


@dataclass
class Decoded:
    function_index: int
    confidence: float
    argument_text: str = ""
    complete: bool = False
    error: str = ""
    generated_tokens: int = 0
    timings_ms: dict = field(default_factory=dict)


class CandidateVocab:
    """The base-vocabulary tokens arguments may use: a fixed domain set (saved with a checkpoint) plus the
    tokens of the command itself, so a value can always be copied from what the user said."""

    def __init__(self, model: OctopusModel, static_ids: list[int]):
        self.model = model
        self.tokenizer = model.tokenizer
        self.static_ids = self._usable(sorted(set(static_ids)))
        self.static_set = set(self.static_ids)
        self.static_texts = self.texts(self.static_ids)
        self.static_rows = model.output_rows(self.static_ids).detach().clone()

    def _usable(self, ids: list[int]) -> list[int]:
        special = set(self.tokenizer.all_special_ids)
        pieces = self.tokenizer.convert_ids_to_tokens(ids)
        return [i for i, p in zip(ids, pieces)
                if i not in special and p is not None and not (p.startswith("<") and p.endswith(">"))]

    def texts(self, ids: list[int]) -> list[str]:
        return [p.replace("\u2581", " ") for p in self.tokenizer.convert_ids_to_tokens(ids)]

    def for_command(self, text: str) -> tuple[list[int], list[str], torch.Tensor]:
        tok = self.tokenizer
        ids = set(tok(text, add_special_tokens=False).input_ids)
        for word in text.split():
            ids.update(tok(word, add_special_tokens=False).input_ids)
        for char in set(text):
            ids.update(tok(char, add_special_tokens=False).input_ids)
        extra = [i for i in self._usable(sorted(ids)) if i not in self.static_set]
        rows = self.static_rows
        if extra:
            rows = torch.cat([rows, self.model.output_rows(extra).detach()])
        return self.static_ids + extra, self.static_texts + self.texts(extra), rows


def _opens_value(text: str) -> bool:
    """True when `text` ends with a quote that may open a value (a closing quote is followed by ", " or ")",
    which no whitespace-first token can start either; an escaped quote is string content)."""
    return text.endswith("'") and not text.endswith("\\'")


def _spans_ok(grammar, text: str, arguments: frozenset[int], command: str) -> bool:
    """Every value written so far for one of `arguments` (indices) is a piece of `command` (lower-cased)."""
    for index, raw in grammar.quoted_values(text):
        if index in arguments:
            if (len(raw) - len(raw.rstrip("\\"))) % 2:  # an escape still open: judge what precedes it
                raw = raw[:-1]
            if unescape(raw).lower() not in command:
                return False
    return True


@torch.no_grad()
def decode(model: OctopusModel, registry: ActionRegistry, vocab: CandidateVocab, prompt_embeds: torch.Tensor,
           command: str, max_new_tokens: int, span_args: dict[int, frozenset[int]] | None = None) -> Decoded:
    timings = {}
    start = time.perf_counter()
    hidden, past = model.hidden(prompt_embeds, use_cache=True)
    probs = torch.softmax(model.function_logits(hidden[0, -1]).float(), dim=-1)
    index = int(probs.argmax())
    timings["prefill"] = (time.perf_counter() - start) * 1000
    result = Decoded(function_index=index, confidence=float(probs[index]), timings_ms=timings)
    function = registry.by_index(index)
    start = time.perf_counter()
    if function.name == registry.no_action.name:
        result.complete = True
        timings["decode"] = 0.0
        return result
    grammar = function.grammar
    spans = (span_args or {}).get(index, frozenset())
    ids, texts, rows = vocab.for_command(command)
    lowered = command.lower()
    text = ""
    next_embed = model.embed_ids(torch.tensor([[model.function_token_id(index)]]))
    for step in range(max_new_tokens):
        hidden, past = model.hidden(next_embed, past_key_values=past, use_cache=True)
        logits = model.token_logits(hidden[0, -1], rows)
        order = torch.argsort(logits, descending=True)[:MAX_CANDIDATE_SCAN].tolist()
        chosen, state = None, PrefixState.INVALID
        after_quote = _opens_value(text)
        for j in order:
            if after_quote and texts[j][:1].isspace():
                continue
            state = grammar.check(text + texts[j])
            if state is not PrefixState.INVALID and (
                    not spans or _spans_ok(grammar, text + texts[j], spans, lowered)):
                chosen = j
                break
        result.generated_tokens = step + 1
        if chosen is None:
            result.error = f"no grammatical continuation of {text!r} among the top {MAX_CANDIDATE_SCAN} tokens"
            break
        text += texts[chosen]
        if state is PrefixState.COMPLETE:
            result.complete = True
            break
        next_embed = model.embed_ids(torch.tensor([[ids[chosen]]]))
    else:
        result.error = f"the call was not complete after {max_new_tokens} tokens: {text!r}"
    result.argument_text = text
    timings["decode"] = (time.perf_counter() - start) * 1000
    return result
