"""Two models' predictions on the same case file, compared case by case: what a retrain changed.

Every retrain so far moved whole phrasings at once (docs/model/evaluation.md, Sessions 13 and 23-24), so the report
pairs the two prediction files by case id, gives the target metrics' differences with one bootstrap over the cases'
templates, and names the phrasings that changed most.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from .cases import CaseFileError, jsonl_rows, read_cases
from .metrics import difference_intervals, judge

#: tags whose exact match the report lists (when the cases have them): the slices earlier sessions judged on
TAGS = ("image", "context_image", "deictic", "heldout_object", "heldout_template", "heldout_value", "typo",
        "negative", "number", "polite")


def read_predictions(path: Path) -> dict[str, dict]:
    """id -> {"function", "arguments"}, from a file `octopus-ros eval --predictions` wrote."""
    out = {}
    for number, row in jsonl_rows(path, "prediction"):
        try:
            out[str(row["id"])] = {"function": row["function"], "arguments": row.get("arguments") or {}}
        except (KeyError, TypeError, AttributeError) as exc:
            raise CaseFileError(f"{path}:{number}: not a valid prediction line ({exc})") from exc
    return out


def compare(cases_path: Path, baseline_path: Path, candidate_path: Path, no_action: str = "no_action",
            top: int = 8) -> str:
    """The report (markdown-ish text). Cases that either file lacks are left out, and the report says how many."""
    all_cases = read_cases(cases_path)
    baseline, candidate = read_predictions(baseline_path), read_predictions(candidate_path)
    cases = [c for c in all_cases if c.id in baseline and c.id in candidate]
    if not cases:
        raise CaseFileError(f"no case of {cases_path} is in both {baseline_path} and {candidate_path}")
    judged = {"baseline": [judge(c, baseline[c.id], no_action) for c in cases],
              "candidate": [judge(c, candidate[c.id], no_action) for c in cases]}
    lines = [f"compared on {len(cases)} cases of {cases_path}"
             + (f" ({len(all_cases) - len(cases)} left out: not in both prediction files)"
                if len(cases) < len(all_cases) else ""),
             f"baseline: {baseline_path}", f"candidate: {candidate_path}", ""]
    lines += _metric_table(cases, judged)
    lines += [""] + _slice_table(cases, judged)
    lines += [""] + _flips(cases, judged, baseline, candidate, top)
    return "\n".join(lines)


def _metric_table(cases, judged) -> list[str]:
    diff = difference_intervals(cases, judged["baseline"], judged["candidate"])
    lines = [f"| target metric | baseline | candidate | difference [95 % interval, resampling the {diff['groups']} "
             f"{diff['kind'] or 'cases'} alike] |", "|---|---|---|---|"]
    for name, m in diff["metrics"].items():
        n_a, n_b = m["n"]
        lines.append(f"| {name} | {m['baseline']:.3f} (n={n_a}) | {m['candidate']:.3f} (n={n_b}) | "
                     f"{m['difference']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}] |")
    return lines


def _slice_table(cases, judged) -> list[str]:
    slices = {"all": [True] * len(cases)}
    slices.update({f"lang:{lang}": [c.lang == lang for c in cases] for lang in sorted({c.lang for c in cases})})
    slices["text only"] = [c.image is None for c in cases]
    slices.update({f"tag:{t}": [t in c.tags for c in cases] for t in TAGS if any(t in c.tags for c in cases)})
    lines = ["| cases | n | exact: baseline | candidate | function: baseline | candidate |", "|---|---|---|---|---|---|"]
    for name, member in slices.items():
        idx = [i for i, m in enumerate(member) if m]
        if not idx:                      # e.g. no text-only case in the real-photo set
            continue
        rate = {k: (sum(judged[k][i].exact for i in idx) / len(idx), sum(judged[k][i].function_ok for i in idx)
                    / len(idx)) for k in judged}
        lines.append(f"| {name} | {len(idx)} | {rate['baseline'][0]:.3f} | {rate['candidate'][0]:.3f} | "
                     f"{rate['baseline'][1]:.3f} | {rate['candidate'][1]:.3f} |")
    return lines


def _flips(cases, judged, baseline, candidate, top: int) -> list[str]:
    def count(attr: str) -> tuple[int, int]:
        pairs = [(getattr(a, attr), getattr(b, attr)) for a, b in zip(judged["baseline"], judged["candidate"])]
        return sum(b and not a for a, b in pairs), sum(a and not b for a, b in pairs)

    gained, lost = count("exact")
    fn_gained, fn_lost = count("function_ok")
    lines = [f"exact match: {gained} cases right only with the candidate, {lost} only with the baseline "
             f"(function: {fn_gained} / {fn_lost})"]
    net: Counter = Counter()
    example: dict[str, int] = {}
    size: Counter = Counter()
    for i, (case, a, b) in enumerate(zip(cases, judged["baseline"], judged["candidate"])):
        group = case.group or f"case:{case.id}"
        size[group] += 1
        if a.exact != b.exact:
            net[group] += 1 if b.exact else -1
            example.setdefault(group, i)
    if not net or not top:
        return lines
    lines.append(f"groups that changed most (net cases right, candidate - baseline; at most {top} each way):")
    ranked = sorted(net.items(), key=lambda kv: (kv[1], kv[0]))
    worst = [kv for kv in ranked if kv[1] < 0][:top]
    best = [kv for kv in reversed(ranked) if kv[1] > 0][:top]
    for group, change in worst + best:
        case = cases[example[group]]
        lines.append(f"  {change:+d} of {size[group]}  {group}: {case.text!r} expected "
                     f"{_call(case.function, case.arguments)}; baseline {_call(**baseline[case.id])}; candidate "
                     f"{_call(**candidate[case.id])}")
    return lines


def _call(function: str, arguments: dict) -> str:
    return f"{function}({', '.join(f'{k}={v!r}' for k, v in sorted(arguments.items()))})"
