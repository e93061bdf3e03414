"""Constrained decoding: the output is always a schema-valid call, or no_action with a reason.

Step 1 scores only the functional tokens (one decoding step chooses the action; its softmax probability
is the confidence). Then argument tokens are chosen among candidate tokens, in log-probability order,
skipping any token that would make the text after the functional token invalid for that function's
grammar (octopus_ros.actions CallGrammar): greedily, or with `beams` > 1 by beam search, keeping that many
partial calls. Decoding stops when the grammar says COMPLETE and no partial call can score higher.
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

FIRST_SCAN = 256  # tokens tried per hypothesis and step; the rest only when none of these is grammatical


@dataclass
class Decoded:
    function_index: int
    confidence: float
    argument_text: str = ""
    argument_ids: list[int] = field(default_factory=list)  # the base-vocabulary tokens of argument_text
    score: float = 0.0     # their total log-probability (each over the candidate vocabulary)
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


@dataclass
class _Hypothesis:
    text: str
    score: float          # sum of the log-probabilities of its argument tokens
    ids: list[int]        # those tokens (base vocabulary)
    parent: int = 0       # row of the previous step's batch (and cache) it extends


def _continuations(grammar, hyp: _Hypothesis, logp: torch.Tensor, texts: list[str], spans: frozenset[int],
                   command: str, limit: int) -> list[tuple[float, int, PrefixState]]:
    """Up to `limit` (score, token, state) grammatical extensions of `hyp`, best first. The best FIRST_SCAN
    tokens are tried; when none of them fits (the model wants something the grammar or a span rule forbids,
    e.g. a closing ')' ranked below the first FIRST_SCAN), the rest are tried too, so a call is not given up."""
    found = []
    after_quote = _opens_value(hyp.text)
    values, order = torch.sort(logp, descending=True)
    for chunk in (slice(0, FIRST_SCAN), slice(FIRST_SCAN, None)):
        for value, j in zip(values[chunk].tolist(), order[chunk].tolist()):
            if after_quote and texts[j][:1].isspace():
                continue
            text = hyp.text + texts[j]
            state = grammar.check(text)
            if state is not PrefixState.INVALID and (not spans or _spans_ok(grammar, text, spans, command)):
                found.append((hyp.score + value, j, state))
                if len(found) == limit:
                    return found
        if found:
            break
    return found


@torch.no_grad()
def decode(model: OctopusModel, registry: ActionRegistry, vocab: CandidateVocab, prompt_embeds: torch.Tensor,
           command: str, max_new_tokens: int, span_args: dict[int, frozenset[int]] | None = None,
           beams: int = 1) -> Decoded:
    """`beams` = 1 is greedy; more keeps that many partial calls and returns the complete one with the
    highest total log-probability (the search stops once no partial call can beat it)."""
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
    alive = [_Hypothesis("", 0.0, [])]
    best: _Hypothesis | None = None
    next_ids = [[model.function_token_id(index)]]
    for step in range(max_new_tokens):
        hidden, past = model.hidden(model.embed_ids(torch.tensor(next_ids)), past_key_values=past, use_cache=True)
        logp = torch.log_softmax(model.token_logits(hidden[:, -1], rows).float(), dim=-1)
        candidates = []
        for b, hyp in enumerate(alive):
            candidates += [(score, b, j, state) for score, j, state in
                           _continuations(grammar, hyp, logp[b], texts, spans, lowered, beams)]
        result.generated_tokens = step + 1
        candidates.sort(key=lambda c: -c[0])
        parents, alive = alive, []
        for score, b, j, state in candidates[:beams]:
            hyp = _Hypothesis(parents[b].text + texts[j], score, parents[b].ids + [ids[j]], b)
            if state is not PrefixState.COMPLETE:
                alive.append(hyp)
            elif best is None or score > best.score:
                best = hyp
        # log-probabilities only fall, so a partial call scoring below the best complete one cannot win
        alive = [h for h in alive if best is None or h.score > best.score]
        if not alive:
            if best is None:
                last = parents[0].text
                result.error = f"no grammatical continuation of {last!r} among the {len(ids)} candidate tokens"
            break
        order = [h.parent for h in alive]
        if order != list(range(len(parents))):
            past.reorder_cache(torch.tensor(order))
        next_ids = [[h.ids[-1]] for h in alive]
    else:
        if best is None:
            result.error = f"the call was not complete after {max_new_tokens} tokens: {alive[0].text!r}"
    final = best or (alive or parents)[0]
    result.complete = best is not None
    result.argument_text, result.argument_ids, result.score = final.text, final.ids, final.score
    timings["decode"] = (time.perf_counter() - start) * 1000
    return result
