"""One group of a sweep: the runs that share one vmapped program, trained as a whole into
DIR/<group_id>/<run_id> from its checkpoint, with crashes and non-finite losses recorded as
failed runs. Both backends (local and Ray) run groups through `run_group`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sparserl.train.checkpoint import CHECKPOINT, Checkpointer
from sparserl.train.outputs import write_json
from sparserl.train.run import ProgressFactory, train
from sparserl.train.spec import TrainSpec


@dataclasses.dataclass
class Group:
    """One group to look at: its spec, directory, run ids and the runs it keeps as they are."""

    spec: TrainSpec
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
    An exception fails every run the group writes; a non-finite loss fails that run."""
    checkpointer = Checkpointer(plan.directory / CHECKPOINT, plan.spec, checkpoint_every)
    try:
        results = train(
            plan.spec, plan.directory, checkpointer=checkpointer, progress=progress, keep=plan.keep
        )
    except Exception as error:  # a crash fails this group's runs, not the sweep
        checkpointer.remove()
        return 0, fail_group(plan, f"{type(error).__name__}: {error}")
    failed = 0
    for result in results:
        bad = result.summary.get("nonfinite_loss")
        if result.run_id in plan.keep or bad is None:
            continue
        reason = f"non-finite {bad['loss']} (mean over the chunk ending at step {bad['step']})"
        _fail_run(plan.directory / result.run_id, reason)
        failed += 1
    return len(plan.todo) - failed, failed


def fail_group(plan: Group, reason: str) -> int:
    """Record every run the group was to write as failed with `reason`; returns their count."""
    for name in plan.todo:
        _fail_run(plan.directory / name, reason)
    return len(plan.todo)


def _fail_run(path: Path, reason: str) -> None:
    write_json(path / "summary.json", {"status": "failed", "reason": reason})
