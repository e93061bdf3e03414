"""`octopus-ros bench`: functional tokens vs prompted JSON function calling on the same base LM.

runner.py   orchestration, case sampling, sizes, headline (BenchOptions, run_bench)
worker.py   one variant in its own process: per-case stage timings, tokens, memory
baseline.py the prompted JSON function-calling baseline (schemas + examples in the prompt)
json_grammar.py  the schema-constrained JSON call grammar of the baseline's decoder
e2e.py      the agent node as a process under 1/5/10 commands/s with a 30 Hz camera
report.py   summaries (training/metrics.py), report.md and the PNG plots
"""
