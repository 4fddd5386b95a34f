"""`python -m benchmarks` runs every benchmark and records them in BUILD_NOTES.md (see run_all)."""

import sys

from benchmarks.run_all import main

sys.exit(main())
