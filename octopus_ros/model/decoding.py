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
With a camera frame and an object lexicon (octopus_ros.model.lexicon), a from_image argument must be the
name the lexicon gives for the frame, or, when the command names an object itself, a piece of the command.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from tokenizers import decoders

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


def byte_level_decoder(tokenizer):
    """The tokenizer's byte-level decoder (tokenizers' `decoders.ByteLevel`) when its vocabulary is byte-level
    BPE (Qwen, SmolLM2: "Ġ" is a space, a Chinese character is two or three byte characters), else None
    (SentencePiece, as Gemma's)."""
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    return decoder if isinstance(decoder, decoders.ByteLevel) else None


def token_texts(tokenizer, ids: list[int]) -> list[str]:
    """The text each token writes on its own: SentencePiece's "▁" is a space; a byte-level token is decoded
    from its bytes (a piece of a UTF-8 character becomes U+FFFD)."""
    pieces = tokenizer.convert_ids_to_tokens(ids)
    byte_level = byte_level_decoder(tokenizer)
    if byte_level is not None:
        return [byte_level.decode([p]) for p in pieces]
    return [p.replace("\u2581", " ") for p in pieces]


def text_tokens(tokenizer, ids: list[int]) -> list[int]:
    """The tokens among `ids` that write text on their own: not special, not SentencePiece's byte tokens
    ("<0xE4>"), and in a byte-level vocabulary not a piece of a UTF-8 character, which no per-token string can
    hold (a common Chinese character is one token in Qwen's vocabulary; in SmolLM2's it is not)."""
    special = set(tokenizer.all_special_ids)
    pieces = tokenizer.convert_ids_to_tokens(ids)
    usable = [i for i, p in zip(ids, pieces)
              if i not in special and p is not None and not (p.startswith("<") and p.endswith(">"))]
    if byte_level_decoder(tokenizer) is not None:
        usable = [i for i, text in zip(usable, token_texts(tokenizer, usable)) if text and "\ufffd" not in text]
    return usable


class CandidateVocab:
    """The base-vocabulary tokens arguments may use: a fixed domain set (saved with a checkpoint) plus the
    tokens of the command itself, so a value can always be copied from what the user said (and the tokens
    of the lexicon's names for the frame, so they can always be written)."""

    def __init__(self, model: OctopusModel, static_ids: list[int]):
        self.model = model
        self.tokenizer = model.tokenizer
        self.static_ids = text_tokens(self.tokenizer, sorted(set(static_ids)))
        self.static_set = set(self.static_ids)
        self.static_texts = self.texts(self.static_ids)
        self.static_rows = model.output_rows(self.static_ids).detach().clone()

    def texts(self, ids: list[int]) -> list[str]:
        return token_texts(self.tokenizer, ids)

    def for_command(self, text: str, names: list[str] | None = None) -> tuple[list[int], list[str], torch.Tensor]:
        """Candidates for one command; `names` (the object lexicon's, for the frame) can be written too."""
        tok = self.tokenizer
        ids = set()
        for piece in [text, *(names or ())]:
            ids.update(tok(piece, add_special_tokens=False).input_ids)
            for word in piece.split():
                ids.update(tok(word, add_special_tokens=False).input_ids)
            for char in set(piece):
                ids.update(tok(char, add_special_tokens=False).input_ids)
        extra = [i for i in text_tokens(tok, sorted(ids)) if i not in self.static_set]
        rows = self.static_rows
        if extra:
            rows = torch.cat([rows, self.model.output_rows(extra).detach()])
        return self.static_ids + extra, self.static_texts + self.texts(extra), rows


def _opens_value(text: str) -> bool:
    """True when `text` ends with a quote that may open a value (a closing quote is followed by ", " or ")",
    which no whitespace-first token can start either; an escaped quote is string content)."""
    return text.endswith("'") and not text.endswith("\\'")


@dataclass(frozen=True)
class _ValueRules:
    """What the string values of the chosen function may be while they are written: `spans` (argument
    indices) must be a piece of the command; `image_args` one of `names` (the object lexicon's names for
    the frame, written as they are) or, with `copy_image_args`, a piece of the command (any case).
    `command` is lower-cased."""
    command: str
    spans: frozenset[int] = frozenset()
    image_args: frozenset[int] = frozenset()
    names: tuple[str, ...] = ()
    copy_image_args: bool = True
    numbers: frozenset[str] | None = None   # when set: the only number literals the call may contain
    required: frozenset[str] = frozenset()  # number literals a complete call must contain
    avoid: Callable[[int, str], bool] | None = None   # (argument index, finished value) a call may not write

    def __bool__(self) -> bool:
        return bool(self.spans or self.image_args or self.required) or self.numbers is not None \
            or self.avoid is not None

    def completes(self, grammar, text: str) -> bool:
        """May the complete call `text` end here: does it hold every required number, either sign ("右转一圈"
        -> -360)?"""
        return self.required <= {literal.lstrip("-") for literal, _ in grammar.number_literals(text)}

    def allow(self, grammar, text: str) -> bool:
        if self.numbers is not None:
            for index, literal, finished in grammar.number_literals(text, with_index=True):
                if finished:
                    allowed = literal in self.numbers
                else:   # a number being written must be able to end as an allowed one that fits the argument
                    rule = grammar.args[index].number_rule   # ("倒计时150秒": seconds '15' cannot become 150)
                    allowed = any(n.startswith(literal) and not rule.value(n)[1] for n in self.numbers)
                if not allowed:
                    return False
        for index, raw, unterminated in grammar.quoted_values(text, with_open=True):
            if self.avoid is not None and not unterminated and self.avoid(index, unescape(raw)):
                return False
            if index not in self.spans and index not in self.image_args:
                continue
            escape_open = (len(raw) - len(raw.rstrip("\\"))) % 2 == 1
            if escape_open:  # judge what precedes it
                raw = raw[:-1]
            value = unescape(raw)
            if index in self.spans:
                if value.lower() not in self.command:
                    return False
                continue
            if self.copy_image_args and value.lower() in self.command:
                continue
            if escape_open:  # only a name with a backslash or a quote next can go on
                if not any(n.startswith(value) and n[len(value):len(value) + 1] in ("\\", "'") for n in self.names):
                    return False
            elif not any(n.startswith(value) if unterminated else n == value for n in self.names):
                return False
        return True


@dataclass
class _Hypothesis:
    text: str
    score: float          # sum of the log-probabilities of its argument tokens
    ids: list[int]        # those tokens (base vocabulary)
    parent: int = 0       # row of the previous step's batch (and cache) it extends


def _continuations(grammar, hyp: _Hypothesis, logp: torch.Tensor, texts: list[str], rules: _ValueRules,
                   limit: int) -> list[tuple[float, int, PrefixState]]:
    """Up to `limit` (score, token, state) grammatical extensions of `hyp`, best first. The best FIRST_SCAN
    tokens are tried; when none of them fits (the model wants something the grammar or a span rule forbids,
    e.g. a closing ')' ranked below the first FIRST_SCAN, or a lexicon name), the rest are tried too, so a call
    is not given up."""
    found = []
    after_quote = _opens_value(hyp.text)
    constrained = bool(rules)
    values, order = torch.sort(logp, descending=True)
    for chunk in (slice(0, FIRST_SCAN), slice(FIRST_SCAN, None)):
        for value, j in zip(values[chunk].tolist(), order[chunk].tolist()):
            if after_quote and texts[j][:1].isspace():
                continue
            text = hyp.text + texts[j]
            state = grammar.check(text)
            if state is PrefixState.COMPLETE and rules.required and not rules.completes(grammar, text):
                continue
            if state is not PrefixState.INVALID and (not constrained or rules.allow(grammar, text)):
                found.append((hyp.score + value, j, state))
                if len(found) == limit:
                    return found
        if found:
            break
    return found


@torch.no_grad()
def decode(model: OctopusModel, registry: ActionRegistry, vocab: CandidateVocab, prompt_embeds: torch.Tensor,
           command: str, max_new_tokens: int, span_args: dict[int, frozenset[int]] | None = None,
           beams: int = 1, image_names: list[str] | None = None, copy_image_args: bool = True,
           numbers: frozenset[str] | None = None, required: frozenset[str] = frozenset(),
           avoid: Callable[[int, str], bool] | None = None) -> Decoded:
    """`beams` = 1 is greedy; more keeps that many partial calls and returns the complete one with the
    highest total log-probability (the search stops once no partial call can beat it). `image_names`: the
    object lexicon's names for the frame, which the function's from_image arguments may take (and, with
    `copy_image_args`, a piece of the command). `numbers`: when given, the only number literals the call
    may contain (command_numbers.allowed_literals); `required`: number literals it must contain. `avoid(index,
    value)`: true for a string value the call may not hold as its argument `index` (checked when it closes)."""
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
    image_args = frozenset(i for i, a in enumerate(function.args) if a.from_image and a.type == "str") \
        if image_names else frozenset()
    rules = _ValueRules(command.lower(), spans - image_args, image_args, tuple(image_names or ()), copy_image_args,
                        numbers, frozenset(required), avoid)
    ids, texts, rows = vocab.for_command(command, image_names)
    alive = [_Hypothesis("", 0.0, [])]
    best: _Hypothesis | None = None
    next_ids = [[model.function_token_id(index)]]
    for step in range(max_new_tokens):
        hidden, past = model.hidden(model.embed_ids(torch.tensor(next_ids)), past_key_values=past, use_cache=True)
        logp = torch.log_softmax(model.token_logits(hidden[:, -1], rows).float(), dim=-1)
        candidates = []
        for b, hyp in enumerate(alive):
            candidates += [(score, b, j, state) for score, j, state in
                           _continuations(grammar, hyp, logp[b], texts, rules, beams)]
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
