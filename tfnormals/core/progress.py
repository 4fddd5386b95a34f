"""Periodic progress lines with rate and ETA for long batch jobs."""

import sys
import time


def format_duration(seconds):
    """3725 → '1h02m', 75 → '1m15s', 9.5 → '9.5s'."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Counts finished items and prints `label: done/total (pct) rate/s ETA` at most every `interval` s.

    Args:
      total: number of items this run will process.
      label: what is being counted, e.g. "render".
      interval: minimum seconds between lines (the last item always prints).
      stream: where lines go (stderr by default, so stdout stays machine-readable).
    """

    def __init__(self, total, label, interval=5.0, stream=None):
        self.total, self.label, self.interval = total, label, interval
        self.stream = stream or sys.stderr
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self._last = -float("inf")

    def update(self, count=1, failed=False, detail=""):
        """Count `count` finished items; `detail` (e.g. a running error) ends the line when one is printed."""
        self.done += count
        self.failed += count if failed else 0
        now = time.monotonic()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            self.stream.write(self.line(now, detail) + "\n")
            self.stream.flush()

    def line(self, now=None, detail=""):
        elapsed = (now or time.monotonic()) - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        failed = f", {self.failed} failed" if self.failed else ""
        eta_text = format_duration(eta) if eta != float("inf") else "?"
        return (f"{self.label}: {self.done}/{self.total} ({pct:.1f}%){failed}, {rate:.2f}/s, "
                f"elapsed {format_duration(elapsed)}, ETA {eta_text}" + (f", {detail}" if detail else ""))
