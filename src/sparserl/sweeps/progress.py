"""One progress line for a whole sweep: runs finished, running and failed, the current group's
steps and an ETA from the training rate measured so far."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class SweepProgress:
    """Redraws one line on a terminal; prints one every 10 s (and per group) otherwise. `work`
    is the run-steps (runs x steps) of the groups still to train."""

    def __init__(self, runs: int, finished: int, failed: int, work: int, stream=None):
        self.runs, self.finished, self.failed = runs, finished, failed
        self.work_left = work
        self.stream: TextIO = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.running, self.label, self.current, self.group_work = 0, "", 0, 0
        self.trained, self.trained_seconds = 0, 0.0  # run-steps timed, for the rate
        self.last_print = 0.0

    def start_group(self, label: str, runs: int, work: int) -> None:
        """A group of `runs` runs and `work` run-steps starts (or resumes)."""
        self.label, self.running, self.current = label, runs, 0
        self.work_left -= work
        self.group_work = work
        self._show(force=True)

    def end_group(self, finished: int, failed: int) -> None:
        """The current group is over: `finished` runs finished, `failed` failed."""
        self.finished += finished
        self.failed += failed
        self.running, self.current = 0, self.group_work
        self._show(force=True)

    def phase(self, steps: int, runs: int, label: str) -> _PhaseLine:
        """The display `train` updates during one phase of the current group."""
        return _PhaseLine(self, steps, runs)

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not (self.tty or force or now - self.last_print >= 10.0):
            return
        left = self.work_left + self.group_work - self.current if self.running else self.work_left
        eta = "?" if self.trained == 0 else _duration(left * self.trained_seconds / self.trained)
        line = (
            f"sweep: {self.finished}/{self.runs} runs finished, {self.running} running, "
            f"{self.failed} failed  ETA {eta}"
        )
        if self.running:
            line += f"  | {self.label} {100 * self.current / max(self.group_work, 1):.0f}%"
        self.stream.write(("\r\033[K" + line) if self.tty else line + "\n")
        self.stream.flush()
        self.last_print = now

    def close(self) -> None:
        """End the line on a terminal."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class _PhaseLine:
    """Counts one phase's chunks into the sweep line; the first chunk of a phase (which
    compiles) is left out of the rate."""

    def __init__(self, sweep: SweepProgress, steps: int, runs: int):
        self.sweep, self.runs = sweep, runs
        self.base = sweep.current  # run-steps of the group's earlier phases
        self.last: tuple[int, float] | None = None

    def update(self, steps: int, latest_return: float) -> None:
        now = time.perf_counter()
        sweep = self.sweep
        if self.last is not None:
            sweep.trained += (steps - self.last[0]) * self.runs
            sweep.trained_seconds += now - self.last[1]
        self.last = (steps, now)
        sweep.current = self.base + steps * self.runs
        sweep._show()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
