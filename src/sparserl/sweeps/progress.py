"""One progress line for a whole sweep: runs finished, running and failed, the running groups'
steps and an ETA from the training rate measured so far. Groups may run one at a time (local)
or several at once (Ray); either way the display is fed run-steps per group."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import TextIO


@dataclasses.dataclass
class _Running:
    """A group in progress: its runs, run-steps (runs x steps) done and to do."""

    runs: int
    done: int
    work: int


class SweepProgress:
    """Redraws one line on a terminal; prints one every 10 s (and per group) otherwise. `work`
    is the run-steps (runs x steps) of the groups still to train."""

    def __init__(self, runs: int, finished: int, failed: int, work: int, stream=None):
        self.runs, self.finished, self.failed = runs, finished, failed
        self.work_left = work  # of the groups not started
        self.stream: TextIO = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.running: dict[str, _Running] = {}
        self.trained, self.trained_seconds = 0, 0.0  # run-steps timed, for the rate
        self.last_print = 0.0

    def start_group(self, label: str, runs: int, work: int) -> None:
        """A group of `runs` runs and `work` run-steps starts (or resumes)."""
        self.running[label] = _Running(runs, 0, work)
        self.work_left -= work
        self._show(force=True)

    def advance(self, label: str, done: int, seconds: float = 0.0) -> None:
        """Group `label` has done `done` run-steps; those since its last report took `seconds`
        (0: untimed, e.g. a chunk that compiled), and count towards the rate if timed."""
        group = self.running[label]
        if seconds > 0:
            self.trained += done - group.done
            self.trained_seconds += seconds
        group.done = done
        self._show()

    def end_group(self, label: str, finished: int, failed: int) -> None:
        """Group `label` is over: `finished` of its runs finished, `failed` failed."""
        self.running.pop(label, None)  # a group lost before it started never showed
        self.finished += finished
        self.failed += failed
        self._show(force=True)

    def phase(self, label: str) -> GroupCounter:
        """The progress factory `train` calls for each phase of group `label`."""
        return GroupCounter(lambda done, seconds: self.advance(label, done, seconds))

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not (self.tty or force or now - self.last_print >= 10.0):
            return
        groups = self.running.values()
        left = self.work_left + sum(g.work - g.done for g in groups)
        # several groups at once train that many times faster than one alone
        rate = self.trained / self.trained_seconds * max(len(groups), 1) if self.trained else 0
        eta = "?" if rate == 0 else _duration(left / rate)
        line = (
            f"sweep: {self.finished}/{self.runs} runs finished, "
            f"{sum(g.runs for g in groups)} running, {self.failed} failed  ETA {eta}"
        )
        if len(self.running) == 1:
            ((label, group),) = self.running.items()
            line += f"  | {label} {100 * group.done / max(group.work, 1):.0f}%"
        elif self.running:
            done = sum(g.done for g in groups) / max(sum(g.work for g in groups), 1)
            line += f"  | {len(self.running)} groups {100 * done:.0f}%"
        self.stream.write(("\r\033[K" + line) if self.tty else line + "\n")
        self.stream.flush()
        self.last_print = now

    def close(self) -> None:
        """End the line on a terminal."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class GroupCounter:
    """Counts one group's run-steps over `train`'s phases and passes them on to `report(done,
    seconds)`; a phase's first chunk (which compiles) is reported untimed."""

    def __init__(self, report):
        self.report = report
        self.done = 0

    def __call__(self, steps: int, runs: int, label: str) -> _PhaseLine:
        return _PhaseLine(self, runs)


class _PhaseLine:
    """One phase of a group, as `train` updates it: steps per run done so far."""

    def __init__(self, counter: GroupCounter, runs: int):
        self.counter, self.runs = counter, runs
        self.base = counter.done  # run-steps of the group's earlier phases
        self.last: float | None = None

    def update(self, steps: int, latest_return: float) -> None:
        now = time.perf_counter()
        seconds = 0.0 if self.last is None else now - self.last
        self.last = now
        self.counter.done = self.base + steps * self.runs
        self.counter.report(self.counter.done, seconds)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
