"""Run every benchmark and record the results in BUILD_NOTES.md (what `python -m benchmarks.run_all` does).

    python -m benchmarks [--only=render,records,...] [--notes=BUILD_NOTES.md] [--no_write] [--tiny]
"""

from benchmarks import common, run_all

if __name__ == "__main__":
    run_all.define_flags()
    common.run(run_all.main, "benchmarks")
