"""A one-line progress display: steps done, env-steps/s, latest evaluation return."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one line on a terminal; prints a line per update (throttled) otherwise."""

    def __init__(self, total_steps: int, runs: int, label: str, stream: TextIO | None = None):
        self.total = total_steps
        self.runs = runs
        self.label = label
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.last_print = 0.0
        self.tty = self.stream.isatty()

    def update(self, steps: int, latest_return: float) -> None:
        """Show `steps` of `total` per run done and the mean latest evaluation return."""
        elapsed = time.perf_counter() - self.start
        rate = steps * self.runs / max(elapsed, 1e-9)
        filled = int(30 * steps / self.total)
        bar = "#" * filled + "-" * (30 - filled)
        line = (
            f"{self.label} [{bar}] {steps:,}/{self.total:,} steps x {self.runs} runs"
            f"  {rate:,.0f} env-steps/s  return {latest_return:.1f}"
        )
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r" + line)
            if steps >= self.total:
                self.stream.write("\n")
        elif steps >= self.total or now - self.last_print >= 10.0:
            self.stream.write(line + "\n")
            self.last_print = now
        self.stream.flush()
