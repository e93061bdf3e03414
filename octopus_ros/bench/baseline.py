"""The prompted function-calling baseline: the same base LM, no functional tokens, JSON calls.

What the common ROS LLM set-ups do (llama_ros with a GBNF/JSON-schema grammar, ROSA and RAI through
LangChain tools): put every tool's JSON schema plus a few examples into the prompt, and let the LM
write `{"function": ..., "arguments": {...}}` under a schema grammar. Here:

* the LM is the profile's base LM (gemma-3-270m, NOT fine-tuned), with the same int8 quantisation
  setting as the functional-token model it is compared with;
* the prompt: an instruction, one JSON schema per function of config/functions.yaml (name,
  description, typed parameters with enum/min/max/default/description, required list), then a few
  examples from the functions file (never from the test set), then `Command: <text>\\nCall: `;
* decoding is greedy under json_grammar.JsonCallGrammar: at each step the candidates are the LM's
  top-k tokens over the FULL vocabulary, in logit order, and the first one the grammar accepts is
  taken (the same result as masking the vocabulary, for greedy decoding). Text the grammar forces
  (`{"function": "`, the rest of a name once it is unique, `", "arguments": {"key": `, ...) is
  appended without a decoding step and fed to the LM in one forward pass ("jump-forward", as in
  SGLang/outlines): this makes the baseline faster, never slower, than token-by-token decoding;
* two prompt modes: `cold` (the whole prompt is prefilled for every command: what llama_ros/ROSA do
  by default) and `cached` (the key/value cache of the fixed prompt prefix is computed once at load
  time and copied for every command, so only the command's own tokens are prefilled).
The baseline never sees the camera image (a text LM): image-dependent arguments cannot be right.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field

import torch

from ..actions import ActionRegistry
from ..model.decoding import text_tokens, token_texts
from .json_grammar import JsonCallGrammar, parse_json_call

INSTRUCTION = (
    "You are the command interpreter of a home robot and a smart home. Translate the user's command "
    "into exactly one function call, written as JSON: {\"function\": <name>, \"arguments\": {...}}. "
    "Use only the functions below, with arguments that match their parameters. Use no_action when "
    "the command asks for something none of the functions can do, is unsafe, or is not understood.")

TOP_K = 64            # candidates tried per step, in logit order
TOP_K_FALLBACK = 4096  # tried once when none of the first TOP_K fits the grammar


def function_schema(function) -> dict:
    """A tool-calling JSON schema of one function (as LangChain/OpenAI-style tool definitions give)."""
    props, required = {}, []
    for arg in function.args:
        p: dict = {}
        if arg.type in ("str", "enum"):
            p["type"] = "string"
        else:
            p["type"] = "integer" if arg.type == "int" else "number"
        if arg.values:
            p["enum"] = list(arg.values)
        if arg.min is not None:
            p["minimum"] = arg.min
        if arg.max is not None:
            p["maximum"] = arg.max
        if arg.type == "str" and arg.max_length:
            p["maxLength"] = arg.max_length
        if not arg.required:
            p["default"] = arg.default
        if arg.description:
            p["description"] = arg.description
        props[arg.name] = p
        if arg.required:
            required.append(arg.name)
    schema = {"name": function.name, "description": function.description,
              "parameters": {"type": "object", "properties": props}}
    if required:
        schema["parameters"]["required"] = required
    return schema


def example_call(name: str, arguments: dict) -> str:
    return json.dumps({"function": name, "arguments": arguments}, ensure_ascii=False)


def pick_examples(registry: ActionRegistry, count: int) -> list[tuple[str, str]]:
    """`count` (command, JSON call) pairs from the functions file's examples: spread over the
    functions, alternating languages, always including one no_action example when there is one."""
    functions = list(registry.functions)
    chosen: list[tuple[str, str]] = []
    if count <= 0:
        return chosen
    step = max(1, len(functions) // count)
    order = functions[::step] + [f for f in functions if f not in functions[::step]]
    na = registry.no_action
    if na.examples and na not in order[:count]:
        order = order[:count - 1] + [na] + [f for f in order[count - 1:] if f is not na]
    for n, function in enumerate(order):
        if len(chosen) >= count:
            break
        want = "zh" if n % 2 else "en"
        examples = [e for e in function.examples if e.get("lang") == want] or list(function.examples)
        if not examples:
            continue
        example = examples[0]
        # optional arguments as the example gives them, in schema order (what the grammar writes)
        arguments = {a.name: example["arguments"][a.name] for a in function.args if a.name in example["arguments"]}
        chosen.append((example["text"], example_call(function.name, arguments)))
    return chosen


def build_prompt_prefix(registry: ActionRegistry, examples: int) -> str:
    """Everything before the command: instruction, function schemas, examples, and 'Command:'."""
    lines = [INSTRUCTION, "", "Functions:"]
    lines += [json.dumps(function_schema(f), ensure_ascii=False) for f in registry.functions]
    lines.append("")
    for text, call in pick_examples(registry, examples):
        lines += [f"Command: {text}", f"Call: {call}", ""]
    return "\n".join(lines) + "\nCommand:"


def command_suffix(text: str) -> str:
    return f" {text}\nCall: "


@dataclass
class BaselineResult:
    outcome: str  # "call" | "no_action" | "invalid_output" | "error"
    function_name: str = ""
    arguments: dict = field(default_factory=dict)
    reason: str = ""
    raw_output: str = ""
    mode: str = ""
    timings_ms: dict = field(default_factory=dict)
    prompt_tokens: int = 0      # tokens of the whole prompt (context the LM conditions on)
    computed_tokens: int = 0    # tokens run through the LM for this command (prefill + decode)
    generated_tokens: int = 0   # tokens the LM chose (decoding steps)
    forced_tokens: int = 0      # tokens the grammar appended without a decoding step

    def to_dict(self) -> dict:
        return asdict(self)


class PromptedBaseline:
    """See the module docstring. `infer(text, mode="cold"|"cached")`."""

    def __init__(self, lm, tokenizer, registry: ActionRegistry, *, examples: int = 12,
                 max_new_tokens: int = 96, jump_forward: bool = True):
        self.lm = lm.eval()
        self.tokenizer = tokenizer
        self.registry = registry
        self.grammar = JsonCallGrammar(registry)
        self.max_new_tokens = max_new_tokens
        self.jump_forward = jump_forward
        self.prefix_text = build_prompt_prefix(registry, examples)
        bos = tokenizer.bos_token_id
        self.prefix_ids = ([bos] if bos is not None else []) + self._ids(self.prefix_text)
        self.token_texts = self._token_texts()
        self._prefix_cache = None
        self.prefix_prefill_ms = 0.0
        self.quantize = "none"

    @classmethod
    def load(cls, profile: str = "default", functions=None, quantize: str | None = None,
             threads: int | None = None, **kwargs) -> "PromptedBaseline":
        from pathlib import Path

        from ..actions.registry import default_path
        from ..model import checkpoint as ckpt
        from ..model.factory import load_tokenizer_and_lm
        from ..model.int8 import quantize_linears
        from ..model.profile import int8_layers, load_profile, profile_from_dict

        if threads:
            torch.set_num_threads(int(threads))
        if ckpt.is_checkpoint(Path(profile)):  # a trained checkpoint: its profile's base LM, untouched
            prof = profile_from_dict(ckpt.read_meta(Path(profile))["profile"])
        else:
            prof = load_profile(profile)
        quantize = quantize or prof.quantize
        tokenizer, lm = load_tokenizer_and_lm(prof)
        for p in lm.parameters():
            p.requires_grad_(False)
        if int8_layers(quantize):
            quantize_linears(lm.model.layers)   # the same int8 layers as the Octopus model (its full-vocabulary
            # head keeps the fp32 embedding matrix)
        registry = functions if isinstance(functions, ActionRegistry) else \
            ActionRegistry.from_yaml(functions or default_path())
        baseline = cls(lm, tokenizer, registry, **kwargs)
        baseline.quantize = quantize
        return baseline

    # ---- helpers ----------------------------------------------------------------------------------
    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def _token_texts(self) -> list[str | None]:
        """The text of every vocabulary token (None: special and byte-fallback tokens, pieces of a character)."""
        ids = list(range(len(self.tokenizer)))
        usable = set(text_tokens(self.tokenizer, ids))
        out = [text if i in usable else None for i, text in enumerate(token_texts(self.tokenizer, ids))]
        vocab = self.lm.get_output_embeddings().weight.shape[0]
        return (out + [None] * vocab)[:vocab]

    def _forward(self, ids: list[int], cache):
        out = self.lm.model(input_ids=torch.tensor([ids]), past_key_values=cache, use_cache=True)
        logits = self.lm.get_output_embeddings()(out.last_hidden_state[0, -1])
        return logits, out.past_key_values

    @torch.inference_mode()
    def warm_prefix(self) -> float:
        """Compute the key/value cache of the fixed prompt prefix (once); returns its time in ms."""
        if self._prefix_cache is None:
            t = time.perf_counter()
            _, self._prefix_cache = self._forward(self.prefix_ids, None)
            self.prefix_prefill_ms = (time.perf_counter() - t) * 1000
        return self.prefix_prefill_ms

    # ---- inference --------------------------------------------------------------------------------
    @torch.inference_mode()
    def infer(self, text: str, image=None, language: str | None = None, mode: str = "cached") -> BaselineResult:
        """Text -> JSON call. `image` is ignored (the baseline is a text LM)."""
        if mode not in ("cold", "cached"):
            raise ValueError(f"mode must be 'cold' or 'cached', got {mode!r}")
        if mode == "cached":
            self.warm_prefix()  # once per process, not per command
        start = time.perf_counter()
        timings: dict[str, float] = {}
        grammar = self.grammar
        state = grammar.start()
        output = ""
        forced = grammar.forced(state) if self.jump_forward else ""
        state = grammar.feed(state, forced)
        output += forced
        suffix = command_suffix(" ".join(text.split()))
        command_ids = self._ids(suffix + forced)  # the forced start of the call joins the prefill
        n_prompt = len(self.prefix_ids) + len(self._ids(suffix))
        if mode == "cached":
            t = time.perf_counter()
            cache = copy.deepcopy(self._prefix_cache)
            timings["cache_copy"] = (time.perf_counter() - t) * 1000
            pending = command_ids
        else:
            cache = None
            pending = self.prefix_ids + command_ids
        result = BaselineResult("invalid_output", mode=mode, timings_ms=timings, prompt_tokens=n_prompt)
        timings["tokenize"] = (time.perf_counter() - start) * 1000 - timings.get("cache_copy", 0.0)
        result.forced_tokens = len(self.prefix_ids) + len(command_ids) - n_prompt
        t = time.perf_counter()
        logits, cache = self._forward(pending, cache)
        result.computed_tokens += len(pending)
        timings["prefill"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        error = ""
        for _ in range(self.max_new_tokens):
            chosen, new_state = self._choose(logits, state)
            if chosen is None:
                error = f"no grammatical continuation of {output!r} among the top {TOP_K_FALLBACK} tokens"
                break
            result.generated_tokens += 1
            output += self.token_texts[chosen]
            state = new_state
            pending = [chosen]
            if self.jump_forward and not grammar.complete(state):
                forced = grammar.forced(state)
                if forced:
                    state = grammar.feed(state, forced)
                    output += forced
                    forced_ids = self._ids(forced)
                    pending = pending + forced_ids
                    result.forced_tokens += len(forced_ids)
            if grammar.complete(state):
                break
            logits, cache = self._forward(pending, cache)
            result.computed_tokens += len(pending)
        else:
            error = f"the call was not complete after {self.max_new_tokens} tokens: {output!r}"
        timings["decode"] = (time.perf_counter() - t) * 1000
        result.raw_output = output
        t = time.perf_counter()
        if error:
            result.reason = error
        else:
            name, arguments, problem = parse_json_call(self.registry, output)
            if problem:  # the grammar and the parser disagree: never publish it
                result.reason = f"internal: grammar accepted a call the parser rejects: {problem}"
            else:
                result.function_name, result.arguments = name, arguments
                result.outcome = "no_action" if name == self.registry.no_action.name else "call"
        timings["parse"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - start) * 1000
        return result

    def _choose(self, logits: torch.Tensor, state):
        texts, grammar = self.token_texts, self.grammar
        tried = 0
        for k in (TOP_K, TOP_K_FALLBACK):
            order = torch.topk(logits, min(k, logits.shape[-1])).indices.tolist()
            for token in order[tried:]:
                piece = texts[token]
                if piece is None:
                    continue
                new_state = grammar.feed(state, piece)
                if new_state is not None:
                    return token, new_state
            tried = len(order)
        return None, None

    def describe(self) -> dict:
        return {"quantize": self.quantize, "prompt_prefix_tokens": len(self.prefix_ids), "prefix_prefill_ms": self.prefix_prefill_ms,
                "jump_forward": self.jump_forward, "examples_in_prompt": self.prefix_text.count("\nCall: "),
                "max_new_tokens": self.max_new_tokens}
