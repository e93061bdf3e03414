"""OctopusAgent: load a model (profile or checkpoint) and turn (command, camera frame) into a call."""
from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..actions import ActionRegistry
from ..actions.numbers import format_number
from ..actions.registry import default_path as default_functions_path
from . import checkpoint as ckpt
from .command_numbers import (allowed_literals, counts_in_degrees, counts_in_sixties, numbers_said,
                              says_other_numbers, sixtieths_said, turns_said, unplaced_literals, unwritten_counts,
                              unwritten_sixties, unwritten_turns, with_said_rotation, without_fractions)
from .decoding import CandidateVocab, decode
from .durations import with_said_duration
from .errors import ModelLoadError
from .factory import build_model, quantize_int8
from .lexicon import ObjectLexicon, frame_features, known_pictures, load_lexicon
from .lora import merge_lora
from .profile import QUANTIZE_MODES, ModelProfile, embedding_storage, int8_layers, load_profile, profile_from_dict
from .spelling import CommandSpelling, typed_values
from .taught_objects import TaughtObject, TaughtObjects, photo_features
from .wording import CommandWording

SUPPORTED_LANGUAGES = ("en", "zh")
MAX_COMMAND_CHARS = 2000
MAX_PROMPT_TOKENS = 256
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def detect_language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


@dataclass
class InferenceResult:
    outcome: str  # "call" | "no_action" | "error"
    function_name: str = ""
    token_index: int = -1
    arguments: dict = field(default_factory=dict)
    arguments_json: str = "{}"
    typed_arguments: list = field(default_factory=list)
    confidence: float = 0.0
    reason: str = ""
    raw_output: str = ""
    language: str = ""
    timings_ms: dict = field(default_factory=dict)
    prompt_tokens: int = 0
    generated_tokens: int = 0

    @property
    def is_no_action(self) -> bool:
        return self.outcome != "call"

    def to_dict(self) -> dict:
        return asdict(self)


class OctopusAgent:
    def __init__(self, model, registry: ActionRegistry, profile: ModelProfile, arg_vocab: list[int],
                 checkpoint: Path | None, span_args: dict | None = None, lexicon: ObjectLexicon | None = None,
                 wording: CommandWording | None = None, taught: TaughtObjects | None = None,
                 known: torch.Tensor | None = None, command_words: dict[str, int] | None = None):
        self.model = model.eval()
        self.registry = registry
        self.profile = profile
        self.checkpoint = checkpoint
        self.vocab = CandidateVocab(model, arg_vocab)
        self.span_args = _span_indices(registry, span_args or {}, checkpoint)
        self.wording = wording or CommandWording({}, [])
        tokenizer = model.tokenizer   # a word the LM holds as one piece is a word, not a slip ("pay", "frog")
        self.spelling = CommandSpelling(command_words, lambda word: len(tokenizer.encode(
            " " + word, add_special_tokens=False)) == 1)
        self.lexicon = lexicon if lexicon is not None and lexicon.top_k > 0 and model.vision is not None else None
        # objects the user taught from photos, and the lexicon's own pictures they must be nearer than
        self.taught, self.known = (taught, known) if self.lexicon is not None else (None, None)
        # how commands are put that hides an object's name ('小章鱼' holds '章鱼'): no mention of the object
        self._hiding_names = [p for p in self.wording.common if self.lexicon.mentioned_in(p)] \
            if self.lexicon is not None else []

    # ---- loading ------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, model: str | Path = "default", functions: ActionRegistry | str | Path | None = None,
             threads: int | None = None, quantize: str | None = None, beams: int | None = None,
             image_names: int | None = None, number_margin: float | None = None,
             taught: str | Path | None = None) -> "OctopusAgent":
        """`model`: a checkpoint folder, a profile YAML, or a profile name in config/model/. `quantize`, `beams`
        and `number_margin` override the profile's, `image_names` the object lexicon's top_k (0: lexicon off).
        `taught`: a file of objects taught from photos (`octopus-ros objects teach`). Raises ModelLoadError with
        a message that says what to do."""
        if quantize and quantize not in QUANTIZE_MODES:   # before seconds of loading
            raise ModelLoadError(f"quantize must be one of {', '.join(QUANTIZE_MODES)}, not {quantize!r}")
        if threads:
            torch.set_num_threads(int(threads))
        profile, checkpoint, meta = resolve_model(model)
        if beams is not None:
            profile.beams = beams
        if profile.beams < 1:
            raise ModelLoadError(f"beams must be 1 (greedy) or more, got {profile.beams}")
        if number_margin is not None:
            if number_margin < 0:
                raise ModelLoadError(f"number_margin must be 0 (off) or more, got {number_margin}")
            profile.number_margin = float(number_margin)
        registry = cls._registry(functions, checkpoint, meta)
        names = [f.name for f in registry.functions]
        model_ = build_model(profile, names, [f.description for f in registry.functions])
        if checkpoint:
            ckpt.load_trained_weights(model_, checkpoint)
            arg_vocab = meta["arg_vocab"]
        else:
            arg_vocab = untrained_arg_vocab(model_.tokenizer, registry)
        # before int8: the lexicon's name vectors are read from the fp32 embedding matrix
        lexicon = load_lexicon(checkpoint, model_, image_names) if checkpoint else None
        taught_objects, known = _taught(taught, lexicon, checkpoint, profile) if taught else (None, None)
        merge_lora(model_)
        mode = quantize or profile.quantize   # a profile's own value was checked when it was parsed
        if int8_layers(mode):
            quantize_int8(model_, embedding=embedding_storage(mode))
        profile = replace(profile, quantize=mode)   # what describe() reports: what was applied
        return cls(model_, registry, profile, arg_vocab, checkpoint, (meta or {}).get("span_args"), lexicon,
                   CommandWording.from_meta(meta, registry, checkpoint), taught_objects, known,
                   (meta or {}).get("command_words"))

    @staticmethod
    def _registry(functions, checkpoint: Path | None, meta: dict | None) -> ActionRegistry:
        if isinstance(functions, ActionRegistry):
            registry = functions
        elif functions is not None:
            registry = ActionRegistry.from_yaml(functions)
        elif checkpoint is not None:
            registry = ActionRegistry.from_yaml(checkpoint / ckpt.FUNCTIONS_FILE)
        else:
            registry = ActionRegistry.from_yaml(default_functions_path())
        if meta and meta["functions_fingerprint"] != registry.fingerprint():
            raise ModelLoadError(
                f"checkpoint {checkpoint} was trained for a different action set than the functions file "
                f"given (fingerprint {meta['functions_fingerprint'][:12]} vs {registry.fingerprint()[:12]}); "
                "retrain with `octopus-ros train all --functions <your file>` or use the checkpoint's "
                f"own {ckpt.FUNCTIONS_FILE}")
        return registry

    def describe(self) -> dict:
        params = sum(p.numel() for p in self.model.parameters())
        return {"profile": self.profile.name, "checkpoint": str(self.checkpoint or ""),
                "quantize": self.profile.quantize, "parameters": params,
                "functions": len(self.registry.functions), "has_vision": self.model.vision is not None,
                "lexicon_objects": len(self.lexicon.entries) if self.lexicon else 0,
                "taught_objects": len(self.taught.objects) if self.taught else 0}

    # ---- teaching -----------------------------------------------------------------------------------------
    def teach(self, en: str, zh: str, photos: list[np.ndarray], replace: bool = False) -> tuple[TaughtObject, list[str]]:
        """Teach an object from photos (HxWx3 uint8 RGB): it is named from the next frames on. Returns the object
        and what its other photos name each photo (TaughtObjects.check); the caller saves `self.taught`. Raises
        ModelLoadError when the model cannot take taught objects, ValueError for a bad name or photo. Safe
        beside a running infer(): it only appends an object or swaps an object's photo tensor."""
        if self.lexicon is None:
            raise ModelLoadError(_NO_LEXICON)
        for photo in photos:
            problem = _image_problem(photo)
            if problem:
                raise ValueError(f"bad photo: {problem}")
        if self.taught is None:
            self.known, _ = known_pictures(self.checkpoint)   # before taught: infer() reads known once taught is set
            self.taught = TaughtObjects(self.profile.name, self.lexicon.crop, self.known.shape[1])
        with torch.inference_mode():
            features = photo_features(self.model.vision, photos, self.lexicon.crop)
        obj = self.taught.teach(en, zh, features, replace=replace)
        return obj, self.taught.check(obj, self.known)

    # ---- inference ----------------------------------------------------------------------------------------
    def infer(self, text: str, image: np.ndarray | None = None, language: str | None = None) -> InferenceResult:
        """Never raises for bad input: returns outcome 'error' with the reason."""
        start = time.perf_counter()
        if not isinstance(text, str):
            return InferenceResult("error", reason=f"command must be text, got {type(text).__name__}")
        text = _CONTROL.sub(" ", text).strip()
        if not text:
            return InferenceResult("error", reason="empty command")
        if len(text) > MAX_COMMAND_CHARS:
            return InferenceResult("error", reason=f"command too long ({len(text)} characters, max {MAX_COMMAND_CHARS})")
        language = (language or "").strip().lower() or detect_language(text)
        if language not in SUPPORTED_LANGUAGES:
            return InferenceResult("error", language=language,
                                   reason=f"unsupported language {language!r} (supported: {', '.join(SUPPORTED_LANGUAGES)})")
        if image is not None:
            problem = _image_problem(image)
            if problem:
                return InferenceResult("error", language=language, reason=f"bad image: {problem}")
        typed = text
        if language == "en":   # "Paly." is read as "Play.": typing slips as the words training says (model/spelling.py)
            text = self.spelling.respelled(text) or text
        timings = {}
        with torch.inference_mode():
            image_embeds, image_names, copy_image_args = None, None, True
            if image is not None and self.model.vision is not None:
                t = time.perf_counter()
                vision = self.model.vision
                pixels = vision.preprocess([image])  # resize + normalise
                timings["image_preprocess"] = (time.perf_counter() - t) * 1000
                t = time.perf_counter()
                trunk = vision.trunk_features(pixels)
                image_embeds = self.model.project_features(vision.head_features(trunk))  # head + projector
                if self.lexicon is not None:
                    if self.lexicon.crop < 1.0:
                        trunk = frame_features(vision, [image], self.lexicon.crop)
                    probs = vision.imagenet_probs(trunk) if self.lexicon.uses_imagenet else None
                    image_names = self.lexicon.names_for(trunk[0], language, None if probs is None else probs[0])
                    naming = self.wording.without(text, self._hiding_names)   # "小章鱼，..." names no octopus
                    copy_image_args = self.lexicon.mentioned_in(naming)
                    if self.taught is not None:
                        taught = self.taught.recognise(trunk[0], self.known)
                        image_names = [taught.name(language)] if taught is not None else image_names
                        copy_image_args = copy_image_args or self.taught.mentioned_in(naming)
                timings["image_encode"] = (time.perf_counter() - t) * 1000
            ids = self.model.prompt_ids(text)
            if len(ids) > MAX_PROMPT_TOKENS:
                return InferenceResult("error", language=language,
                                       reason=f"command too long ({len(ids)} tokens, max {MAX_PROMPT_TOKENS})")
            prompt = self.model.prompt_embeds(ids, image_embeds)
            spans = self.span_args["image" if image_embeds is not None else "text"]

            def run(names=None, numbers=None, required=frozenset(), avoid=None):
                return decode(self.model, self.registry, self.vocab, prompt, text, self.profile.max_new_tokens,
                              spans, self.profile.beams, names, copy_image_args, numbers, required, avoid=avoid)

            decoded = run(image_names)
            if image_names and not decoded.complete:  # the lexicon's names led nowhere: decode without them
                t = time.perf_counter()
                image_names = None
                decoded = run()
                timings["unnamed"] = (time.perf_counter() - t) * 1000
            if image_names and not copy_image_args and not self.wording.points_at_picture(text):
                said = self._said_picture_values(text, decoded, run, timings)   # "search for car prices"
                if said is not None:
                    image_names, decoded = None, said
            decoded, avoid = self._without_wording(text, decoded, lambda avoid: run(image_names, avoid=avoid), timings)
            decoded = self._with_said_numbers(text, decoded, lambda *limits: run(image_names, *limits, avoid=avoid),
                                              timings)
        timings.update(decoded.timings_ms)
        function = self.registry.by_index(decoded.function_index)
        result = InferenceResult("no_action", function_name=function.name, token_index=function.index,
                                 confidence=decoded.confidence, language=language, timings_ms=timings,
                                 prompt_tokens=prompt.shape[1], generated_tokens=decoded.generated_tokens)
        t = time.perf_counter()
        if function.name == self.registry.no_action.name:
            result.reason = "the model chose no_action (out of scope, unsafe or not understood)"
            result.raw_output = f"{function.token}(){self.registry.end_token}"
        elif not decoded.complete:
            result.reason = f"decoding failed for {function.name}: {decoded.error}"
            result.raw_output = function.token + decoded.argument_text
        else:
            result.raw_output = f"{function.token}{decoded.argument_text}{self.registry.end_token}"
            parsed = self.registry.parse(result.raw_output)
            if not parsed.ok:   # the grammar and the parser disagree: a bug, but never publish it
                result.reason = f"internal: grammar accepted a call the parser rejects: {parsed.error}"
            else:
                decoded_arguments = parsed.call.arguments
                arguments = self._polished(function, decoded_arguments, text, spans.get(function.index, frozenset()),
                                           typed, language)
                missing = _unfilled_required(function, arguments)
                worded = self.wording.worded(function, decoded_arguments, text)
                if missing or worded:   # "关掉" -> turn_off(device="") or (device="关掉"): nothing to execute
                    no_action = self.registry.no_action
                    result.function_name, result.token_index = no_action.name, no_action.index
                    if missing:
                        result.reason = (f"incomplete command: {function.name} needs {' and '.join(missing)}, "
                                         "and the command does not say")
                    else:
                        argument, value = worded[0]
                        result.reason = (f"incomplete command: {function.name}'s {argument} would be {value!r}, "
                                         "which is the command's own wording, not a value")
                    result.raw_output = f"{no_action.token}(){self.registry.end_token}"
                else:
                    if arguments != decoded_arguments:
                        result.raw_output = self.registry.format_call(function, arguments)
                        parsed = self.registry.parse(result.raw_output)
                    call = parsed.call
                    result.outcome = "call"
                    result.arguments = call.arguments
                    result.arguments_json = call.arguments_json
                    result.typed_arguments = [list(t) for t in call.typed_arguments]
        timings["parse"] = (time.perf_counter() - t) * 1000
        if text != typed:
            result.reason = "; ".join(r for r in (result.reason, f"read as {text!r} (typing slips respelled)") if r)
        timings["total"] = (time.perf_counter() - start) * 1000
        return result

    def _polished(self, function, arguments: dict, text: str, span_args: frozenset[int], typed: str,
                  language: str) -> dict:
        """The decoded values as published (model/wording.py says when and why each step changes a value):
        - read from the command: "倒计时十秒" -> 10 seconds, not 10 minutes; "顺时针旋转六十度" -> -60 degrees, not 60;
        - a span argument left empty takes a value training wrote for it that the command says ("set the balcony
          night light to 55%" -> area 'balcony', not ''); span values are whole words ("the spotlights" ->
          'spotlights', not 'lights'); two values never share words ("衣帽间的电饭煲" -> area '衣帽间' beside device
          '电饭煲'); copied values lose the command's wording at their ends ("tropical ideas" -> 'tropical') and
          trade places when each is in the other's ("给客厅来个海滨风的设计" -> room '客厅', style '海滨');
        - with an object lexicon: the whole name the command says ("帮我找找拐杖糖" -> '拐杖糖', not '拐杖'), the
          catalog's singular ("order nine melons" -> 'melon') and the catalog's category of a product ("buy
          scissors on Amazon" -> 'office supplies', not the LM's guess).
        `text` is the command as read, `typed` as typed: free-text values keep the typed words ("text Chloe ..."
        read as "text Cloe ..." still texts Chloe)."""
        arguments = with_said_duration(function, arguments, text)
        arguments = with_said_rotation(function, arguments, text)
        arguments = self.wording.with_said_values(function, arguments, text, span_args)
        arguments = self.wording.in_whole_words(function, arguments, text, span_args)
        arguments = self.wording.separated(function, arguments, text, span_args)
        arguments = self.wording.trimmed(function, arguments, text)
        arguments = self.wording.as_said(function, arguments, text)
        arguments = self.wording.unswapped(function, arguments, text)
        if self.lexicon is not None:
            names = {**self.lexicon.names_in(language), **(self.taught.names_in(language) if self.taught else {})}
            arguments = self.wording.in_whole_names(function, arguments, text, names, language)
            names = {**self.lexicon.names_in("en"), **(self.taught.names_in("en") if self.taught else {})}
            arguments = self.wording.in_singular(function, arguments, names)
            arguments = self.lexicon.catalog_values(function.name, arguments, language)
        if typed != text:
            arguments = typed_values(arguments, {a.name for a in function.args if a.type == "str"}, typed, text)
        return arguments

    def _said_picture_values(self, text: str, decoded, run, timings: dict):
        """The call decoded without the lexicon's names (`run()`) when it takes the picture arguments from the
        command's own words (CommandWording.says_picture_values): "search for electric car prices" with a
        frame -> query 'electric car prices', not the lexicon's 'notebook'; else None. Only for commands that
        do not point at the picture ("search for this" keeps the lexicon's name without a second decode)."""
        function = self.registry.by_index(decoded.function_index)
        if not (decoded.complete and self.wording.pointing and any(a.from_image and a.type == "str"
                                                                     for a in function.args)):
            return None
        pictured, _ = function.grammar.parse(decoded.argument_text)
        if pictured is None:
            return None
        start = time.perf_counter()
        again = run()
        timings["unpictured"] = (time.perf_counter() - start) * 1000
        unpictured, _ = function.grammar.parse(again.argument_text) if again.complete else (None, "")
        if unpictured is None or not self.wording.says_picture_values(function, pictured, unpictured, text):
            return None
        return replace(again, timings_ms=decoded.timings_ms)

    def _without_wording(self, text: str, decoded, run, timings: dict):
        """(call, avoid): when the call holds the command's own wording as a value ("喂，播报：开饭了" ->
        speak(text='播报'), "send the vacuum to the entryway" -> area 'vacuum'), the call decoded again
        (`run(avoid)`) with no value allowed to be such wording, and that rule; kept when it completes with every
        required argument filled and each changed value said alone in the command ('entryway', not 't' for
        "search for it"). Otherwise (decoded, None), and infer() makes the worded call no_action (session 17)."""
        if not decoded.complete:
            return decoded, None
        function = self.registry.by_index(decoded.function_index)
        arguments, _ = function.grammar.parse(decoded.argument_text)
        if arguments is None or not self.wording.worded(function, arguments, text):
            return decoded, None

        def avoid(index: int, value: str) -> bool:
            return self.wording.is_wording(function, value, text)

        start = time.perf_counter()
        again = run(avoid)
        timings["unworded"] = (time.perf_counter() - start) * 1000
        if again.complete and again.function_index == decoded.function_index:
            unworded, _ = function.grammar.parse(again.argument_text)
            if unworded is not None and not _unfilled_required(function, unworded) \
                    and self.wording.says_changed_values(function, arguments, unworded, text):
                return replace(again, timings_ms=decoded.timings_ms), avoid
        return decoded, None

    def _with_said_numbers(self, text: str, decoded, run, timings: dict):
        """The call decoded again within the numbers the command said: when it holds another one ("fifty
        minutes" -> 5), kept unless the model finds it more than number_margin less likely (a derived number:
        "half an hour" -> 30 minutes); when it leaves one out that an argument kept at its default could hold
        ("5 hours and nineteen minutes" -> 5 h), the second call must write it and is kept when complete; so
        must a timer call that writes only part of a duration said in one unit ("倒计时一百四十秒" -> 2 min:
        unwritten_sixties) or leaves out a count it says ("四十四分钟" -> 4 min: unwritten_counts), "half" and
        "a quarter" counting as 30 and 15 (sixtieths_said), and a turn said in circles ("原地转一圈" -> 360:
        turns_said, unwritten_turns; the way round the first call turned).
        `run(numbers, required)` decodes with those limits."""
        if not (self.profile.number_margin > 0 and decoded.complete):
            return decoded
        function = self.registry.by_index(decoded.function_index)
        said = numbers_said(text)
        if counts_in_sixties(function):   # "两个半小时" -> 2 and 30; "three quarters of an hour" -> 45, not 3
            said = numbers_said(without_fractions(text)) | sixtieths_said(text)
        turns = turns_said(text) if counts_in_degrees(function) else frozenset()   # "转一圈" -> 360
        said |= turns
        if not said:
            return decoded
        literals = [literal for literal, _ in function.grammar.number_literals(decoded.argument_text)]
        arguments, _ = function.grammar.parse(decoded.argument_text)
        if arguments is None:
            return decoded
        sixties = unwritten_sixties(function, arguments, said)   # "倒计时一百四十秒" -> (0, 2)
        required = sixties | unwritten_counts(function, arguments, said, text) | unwritten_turns(arguments, turns)
        if not says_other_numbers(literals, said):
            required |= unplaced_literals(function, arguments, said)
            if not required:
                return decoded
        if sixties and "1" not in sixties:   # "定一个155分钟的计时器": 一 is an article, not 1 hour
            said -= {1.0}
        allowed = allowed_literals(said, counts_in_sixties(function))
        if turns and any(v < 0 for v in arguments.values() if isinstance(v, (int, float))):
            allowed -= {format_number(v, "float") for v in turns}   # "向右转一圈": the first call's way round
        start = time.perf_counter()
        again = run(allowed, required)
        timings["said_numbers"] = (time.perf_counter() - start) * 1000
        # a number left out is kept out only when the second call cannot be completed: ending early always
        # scores higher ("(5)" beats "(5, 19)" by 2-7), so the margin would undo the rule (session 15)
        if again.complete and (required or decoded.score - again.score <= self.profile.number_margin):
            return replace(again, timings_ms=decoded.timings_ms)
        return decoded


def _unfilled_required(function, arguments: dict) -> list[str]:
    """Required string arguments the model left empty. No correct call has one (none in the training data),
    so such a call means the command did not give the argument."""
    return [a.name for a in function.args
            if a.type == "str" and a.required and not str(arguments.get(a.name, "")).strip()]


def _image_problem(image) -> str:
    if not isinstance(image, np.ndarray):
        return f"expected a numpy array, got {type(image).__name__}"
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        return f"expected HxWx3 uint8 RGB, got shape {image.shape} dtype {image.dtype}"
    if image.shape[0] < 8 or image.shape[1] < 8:
        return f"image too small ({image.shape[1]}x{image.shape[0]})"
    return ""


def untrained_arg_vocab(tokenizer, registry: ActionRegistry) -> list[int]:
    """Candidate argument tokens for a model with no checkpoint: the tokens of every example call in the
    functions file plus printable ASCII, so an untrained/random model can still form any argument."""
    ids: set[int] = set()
    for function in registry.functions:
        for example in function.examples:
            try:
                call = registry.format_call(function.name, example["arguments"])
            except Exception:  # a bad example is reported by the registry's own checks, not here
                continue
            ids.update(tokenizer(call.split(">", 1)[1].rsplit("<", 1)[0], add_special_tokens=False).input_ids)
    for code in range(32, 127):
        ids.update(tokenizer(chr(code), add_special_tokens=False).input_ids)
    return sorted(ids)


def resolve_model(model: str | Path) -> tuple[ModelProfile, Path | None, dict | None]:
    """(profile, checkpoint folder or None, its octopus.json) of a checkpoint folder, profile YAML or name."""
    path = Path(model)
    if ckpt.is_checkpoint(path):
        meta = ckpt.read_meta(path)
        return profile_from_dict(meta["profile"]), path, meta
    profile = load_profile(model)
    checkpoint = profile.checkpoint if profile.checkpoint and ckpt.is_checkpoint(profile.checkpoint) else None
    if profile.checkpoint and checkpoint is None:
        raise ModelLoadError(f"profile {profile.name}: checkpoint {profile.checkpoint} not found; "
                             "train it with `octopus-ros train all` or use the tiny-random profile")
    return profile, checkpoint, (ckpt.read_meta(checkpoint) if checkpoint else None)


_NO_LEXICON = ("taught objects need a model with an object lexicon (a trained checkpoint with an image tower); "
               "this model has none")


def _taught(path: str | Path, lexicon: ObjectLexicon | None, checkpoint: Path | None, profile: ModelProfile):
    """(taught objects, the lexicon's known picture features) for OctopusAgent.load, or ModelLoadError."""
    if lexicon is None:
        raise ModelLoadError(_NO_LEXICON)
    known, _ = known_pictures(checkpoint)
    taught = TaughtObjects.load(Path(path))
    taught.matches(profile.name, lexicon.crop, known.shape[1])
    return taught, known


def _span_indices(registry: ActionRegistry, rules: dict, checkpoint: Path | None) -> dict[str, dict]:
    """The checkpoint's span rules ({"text"|"image": {function: [argument]}}, training.span_rules) as
    {modality: {function index: frozenset of argument indices}}, for decode()."""
    out: dict[str, dict] = {"text": {}, "image": {}}
    for mode, functions in rules.items():
        if mode not in out:
            raise ModelLoadError(f"checkpoint {checkpoint}: span_args has an unknown modality {mode!r}")
        for name, args in functions.items():
            try:
                function = registry.by_name(name)
            except KeyError as exc:
                raise ModelLoadError(f"checkpoint {checkpoint}: span_args: {exc.args[0]}") from None
            positions = {a.name: i for i, a in enumerate(function.args) if a.type == "str"}
            unknown = [a for a in args if a not in positions]
            if unknown:
                raise ModelLoadError(f"checkpoint {checkpoint}: span_args: {name} has no string argument "
                                     f"{unknown[0]!r}")
            out[mode][function.index] = frozenset(positions[a] for a in args)
    return out


def result_json(result: InferenceResult) -> str:
    return json.dumps(result.to_dict(), ensure_ascii=False)
