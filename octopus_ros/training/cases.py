"""Case files (JSONL): one command per line, with its expected call. Shared by training and evaluation.

{"id", "lang", "text", "image": path relative to the file or null, "expected": {"function", "arguments"}}
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Case:
    id: str
    lang: str
    text: str
    image: Path | None
    function: str
    arguments: dict
    tags: tuple = ()
    image_args: tuple = ()      # arguments whose value must be read from the image (meta.image_args)
    group: str = ""             # what its errors go together with: the template a generated case was made from
                                # (meta.template) or the photo of a real-photo case (meta.photo); "" if neither
    before_typo: str = ""       # the text before a train-only typo (meta.before_typo); "" if it has none

    @property
    def wording_text(self) -> str:
        """The text the decoding rules' phrases are counted in (span_rules.py train_wording): without a
        train-only typo, so a typo'd "halt" does not take a count from "halt"."""
        return self.before_typo or self.text


class CaseFileError(ValueError):
    pass


def jsonl_rows(path: Path, what: str):
    """(line number, parsed object) for every non-empty line of a JSONL file; CaseFileError naming the file and line
    when it cannot be read or a line is not JSON (`what`: "case", "prediction")."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CaseFileError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise CaseFileError(f"{path}:{number}: not a valid {what} line ({exc})") from exc


def read_cases(path: str | Path) -> list[Case]:
    path = Path(path)
    cases = []
    for number, row in jsonl_rows(path, "case"):
        try:
            image = row.get("image")
            cases.append(Case(id=str(row["id"]), lang=row.get("lang", ""), text=row["text"],
                              image=(path.parent / image) if image else None,
                              function=row["expected"]["function"],
                              arguments=row["expected"].get("arguments") or {}, tags=tuple(row.get("tags", ())),
                              image_args=tuple((row.get("meta") or {}).get("image_args") or ()),
                              group=_group(row.get("meta") or {}),
                              before_typo=(row.get("meta") or {}).get("before_typo") or ""))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CaseFileError(f"{path}:{number}: not a valid case line ({exc})") from exc
    return cases


def cases_digest(cases: list[Case]) -> str:
    """sha256 of what an evaluation measures: each case's id, language, text, expected call and image bytes, in
    order. `octopus-ros eval` prints it and `data synth` records it per split (manifest and card), so a number is
    tied to the very cases it was measured on, and a rebuilt split can be checked against the one the docs
    measured (a different image package, say, changes the frames but not the JSONL)."""
    digest = hashlib.sha256()
    for case in cases:
        try:
            image = hashlib.sha256(case.image.read_bytes()).hexdigest() if case.image else "-"
        except OSError as exc:
            raise CaseFileError(f"case {case.id}: cannot read its image {case.image}: {exc}") from exc
        call = [case.id, case.lang, case.text, case.function, case.arguments]
        digest.update(json.dumps(call, ensure_ascii=False, sort_keys=True).encode() + f"\0{image}\n".encode())
    return digest.hexdigest()


def _group(meta: dict) -> str:
    if meta.get("template"):
        return f"template:{meta['template']}"
    return f"photo:{meta['photo']}" if meta.get("photo") else ""
