"""Benchmarks for every stage of tfnormals: rendering, records, input pipeline, training step,
inference and model quality.

Run one stage with `python -m benchmarks.bench_<stage>` (each prints a markdown table; `--help`
lists its options) or all of them with `python -m benchmarks`, which also writes the combined
tables, the machine and the exact commands into BUILD_NOTES.md (see benchmarks/run_all.py).
"""
