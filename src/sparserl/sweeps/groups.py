"""One group of a sweep: the runs that share one vmapped program, trained as a whole into
DIR/<group_id>/<run_id> from its checkpoint, with crashes (a file that cannot be written
among them) and diverged losses recorded as failed runs. Both backends (local and Ray) run
groups through `run_group`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sparserl.rundir.atomic import OutputError, write_json
from sparserl.rundir.files import divergence_reason
from sparserl.rundir.schema import CHECKPOINT, SUMMARY, failed_summary
from sparserl.train import Plan, TrainSpec, train
from sparserl.train.checkpoint import Checkpointer
from sparserl.train.run import ProgressFactory


@dataclasses.dataclass
class Group:
    """One group to look at: its spec and the plan `check` resolved it to, directory, run ids
    and the runs it keeps as they are."""

    spec: TrainSpec
    plan: Plan
    directory: Path
    run_ids: list[str]
    keep: set[str]
    failed: int  # of the kept runs

    @property
    def todo(self) -> list[str]:
        return [r for r in self.run_ids if r not in self.keep]

    @property
    def work(self) -> int:
        """Run-steps of the whole group (it trains as one, kept runs included)."""
        return len(self.run_ids) * self.spec.steps


def run_group(plan: Group, checkpoint_every: float, progress: ProgressFactory) -> tuple[int, int]:
    """Train one group, resuming from its checkpoint; returns (finished, failed) run counts.
    An exception fails every run the group writes (and drops its checkpoint); a diverged loss
    (train.run.DIVERGED_LOSS) fails that run."""
    checkpointer = Checkpointer(plan.directory / CHECKPOINT, plan.spec, checkpoint_every)
    try:
        results = train(
            plan.plan, plan.directory, checkpointer=checkpointer, progress=progress, keep=plan.keep
        )
    except Exception as error:  # a crash fails this group's runs, not the sweep
        crash = describe(error)
    else:
        crash = None
    if crash is not None:  # outside the handler: an error recording it is not chained to it
        failed = fail_group(plan, crash)
        checkpointer.remove()
        return 0, failed
    failed = 0
    for result in results:
        if result.run_id in plan.keep or "diverged" not in result.summary:
            continue
        _fail_run(plan, result.run_id, divergence_reason(result.summary["diverged"]))
        failed += 1
    return len(plan.todo) - failed, failed


def describe(error: BaseException) -> str:
    """An exception as a one-line reason: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def fail_group(plan: Group, reason: str) -> int:
    """Record every run the group was to write as failed with `reason`; returns their count."""
    for name in plan.todo:
        _fail_run(plan, name, reason)
    return len(plan.todo)


def _fail_run(plan: Group, name: str, reason: str) -> None:
    """Write the failed summary of run `name`; if it cannot be written (disk full, read-only),
    raise OutputError: one line naming the file, why, and the failure it was to record."""
    try:
        write_json(plan.directory / name / SUMMARY, failed_summary(reason))
    except OutputError as error:
        raise OutputError(f"{error}, so this failure is not recorded: {reason}") from None
