"""`octopus-ros bench`: functional tokens vs prompted JSON function calling, offline and through ROS."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def bench_command(
    model: Optional[str] = typer.Option(None, help="Model profile, profile YAML or checkpoint folder "
                                                   "(default: `default`; `tiny-random` with --quick)."),
    cases: Path = typer.Option(Path("data/default/test.jsonl"), help="Test cases (JSONL). When missing, the "
                                                                     "functions file's examples are used."),
    out: Optional[Path] = typer.Option(None, help="Output folder for report.md, bench.json and the plots "
                                                  "(default: docs/benchmarks; runs/bench-quick with --quick)."),
    quick: bool = typer.Option(False, "--quick", help="CI mode: tiny-random model, a few cases, short ROS "
                                                      "phases (under 2 minutes)."),
    n_cases: Optional[int] = typer.Option(None, help="Cases for the functional-token model (default 300)."),
    n_other_precision: Optional[int] = typer.Option(None, help="Of those, cases also run at the other "
                                                               "precision (fp32 <-> int8; default 150)."),
    n_baseline: Optional[int] = typer.Option(None, help="Of those, cases for the baseline with a cached "
                                                        "prompt prefix (default 120)."),
    n_cold: Optional[int] = typer.Option(None, help="Of those, cases for the baseline with a cold prompt "
                                                    "(default 16)."),
    examples: int = typer.Option(12, help="Examples in the baseline's prompt."),
    threads: int = typer.Option(0, help="CPU threads for every model (0 = torch's default)."),
    e2e_seconds: Optional[float] = typer.Option(None, help="Seconds of commands per ROS load phase "
                                                           "(default 15; 2 with --quick)."),
    no_e2e: bool = typer.Option(False, "--no-e2e", help="Skip the ROS end-to-end load test."),
    no_baseline: bool = typer.Option(False, "--no-baseline", help="Skip the prompted baseline."),
    no_other_precision: bool = typer.Option(False, "--no-other-precision", help="Skip the fp32/int8 comparison."),
    no_jump_forward: bool = typer.Option(False, "--no-jump-forward", help="Baseline: decode forced JSON "
                                                                         "structure token by token."),
    seed: int = typer.Option(0, help="Seed of the case sample."),
) -> None:
    """Benchmark functional tokens against prompted JSON function calling (same base LM): accuracy, latency by
    stage, tokens, memory, model size, fp32 vs int8, and end to end through ROS at 1/5/10 commands/s.

    Writes report.md, bench.json and PNG plots. Examples:

      octopus-ros bench --quick --out /tmp/bench

      octopus-ros bench            # the full run (about 15-20 min on 2 CPU cores)
    """
    from .runner import REPO, BenchOptions, run_bench

    overrides = dict(model=model, n_cases=n_cases, n_other_precision=n_other_precision, n_baseline=n_baseline,
                     n_cold=n_cold, e2e_seconds=e2e_seconds, out=out)
    common = dict(cases=cases if cases.is_absolute() else (Path.cwd() / cases), examples=examples,
                  threads=threads, seed=seed, e2e=not no_e2e, baseline=not no_baseline,
                  other_precision=not no_other_precision, jump_forward=not no_jump_forward)
    if not common["cases"].exists() and (REPO / cases).exists():
        common["cases"] = REPO / cases
    if quick:
        opts = BenchOptions.quick_defaults(**overrides, **common)
    else:
        opts = BenchOptions(**{k: v for k, v in overrides.items() if v is not None}, **common)
    try:
        data = run_bench(opts, progress=lambda m: typer.echo(m, err=True))
    except RuntimeError as exc:
        typer.echo(f"octopus-ros bench: {exc}", err=True)
        raise typer.Exit(1)
    for line in data["headline"]["lines"]:
        typer.echo("- " + line.replace("**", ""))
