"""Run a sweep on this machine, group after group, into DIR/<group_id>/<run_id>: finished runs
are skipped, interrupted groups resume from their checkpoint, failures are recorded and the
sweep goes on.

Resume rules, per run directory: finished -> kept; failed -> kept (redone with
`retry_failed`); corrupt -> moved aside to `.<run>.corrupt-<timestamp>` and redone; partial or
missing -> (re)done. A group runs as a whole (its runs share one vmapped program): it resumes
from DIR/<group_id>/checkpoint.npz if that is this spec's, else restarts, and never rewrites
the files of the runs it keeps."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sparserl.results import RunStatus, inspect_run
from sparserl.sweeps.grid import check, expand, group_id, planned_runs
from sparserl.sweeps.progress import SweepProgress
from sparserl.sweeps.spec import SweepSpec, SweepSpecError, parse
from sparserl.train.checkpoint import CHECKPOINT, Checkpointer
from sparserl.train.outputs import write_atomic, write_json
from sparserl.train.run import train
from sparserl.train.spec import TrainSpec

SPEC_FILE = "sweep.yaml"


@dataclasses.dataclass
class SweepOutcome:
    """Run counts of a sweep after `run_sweep`: kept from before, finished now, failed now."""

    kept: int = 0
    finished: int = 0
    failed: int = 0


@dataclasses.dataclass
class _Group:
    """One group to look at: its spec, directory, run ids and the runs it keeps as they are."""

    spec: TrainSpec
    directory: Path
    run_ids: list[str]
    keep: set[str]
    failed: int  # of the kept runs

    @property
    def todo(self) -> list[str]:
        return [r for r in self.run_ids if r not in self.keep]


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    retry_failed: bool = False,
    checkpoint_every: float = 600.0,
    stream=None,
) -> SweepOutcome:
    """Run every group of `spec` into `out`; raises SweepSpecError before writing anything if
    a group cannot run or `out` holds another sweep."""
    out = Path(out)
    groups = expand(spec)
    check(groups)
    _claim(out, spec)
    runs = planned_runs(groups)
    plans = [
        _prepare(out, g, [r for gid, r in runs if gid == group_id(g)], retry_failed) for g in groups
    ]
    kept = sum(len(p.keep) for p in plans)
    failed_before = sum(p.failed for p in plans)
    work = sum(len(p.run_ids) * p.spec.steps for p in plans if p.todo)
    progress = SweepProgress(len(runs), kept - failed_before, failed_before, work, stream)
    outcome = SweepOutcome(kept=kept)
    for plan in plans:
        if not plan.todo:
            Checkpointer(plan.directory / CHECKPOINT, plan.spec).remove()
            continue
        finished, failed = _run_group(plan, checkpoint_every, progress)
        outcome.finished += finished
        outcome.failed += failed
    progress.close()
    return outcome


def _claim(out: Path, spec: SweepSpec) -> None:
    """Write the spec to out/sweep.yaml, or check that the one there is the same sweep."""
    path = out / SPEC_FILE
    if path.is_file():
        try:
            existing = parse(yaml.safe_load(path.read_text()))
        except (SweepSpecError, yaml.YAMLError) as error:
            raise SweepSpecError(f"{path} cannot be read back ({error})") from None
        if existing != spec:
            raise SweepSpecError(
                f"{out} holds another sweep ({path}); use a new --out or restore that spec"
            )
        return
    write_atomic(path, yaml.safe_dump(spec_data(spec), sort_keys=False))


def spec_data(spec: SweepSpec) -> dict[str, Any]:
    """The spec as the mapping `parse` reads (what sweep.yaml holds)."""
    data = _plain(dataclasses.asdict(spec))
    data["methods"] = [
        {
            "name": e.name,
            **_plain(e.options),
            **({"match_sparsity": True} if e.match_sparsity else {}),
        }
        for e in spec.methods
    ]
    return {k: v for k, v in data.items() if v is not None}


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively, for YAML."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _prepare(out: Path, spec: TrainSpec, run_ids: list[str], retry_failed: bool) -> _Group:
    """Inspect the group's run directories: keep finished (and failed, unless retried) runs,
    move corrupt ones aside, clear the failed summaries of retried ones."""
    directory = out / group_id(spec)
    keep, failed = set(), 0
    for name in run_ids:
        path = directory / name
        record = inspect_run(path)
        if record.status == RunStatus.FINISHED:
            keep.add(name)
        elif record.status == RunStatus.FAILED and not retry_failed:
            keep.add(name)
            failed += 1
        elif record.status == RunStatus.FAILED:
            (path / "summary.json").unlink()
        elif record.status == RunStatus.CORRUPT:
            # hidden, so results.load does not list it again
            path.rename(path.with_name(f".{name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"))
    return _Group(spec, directory, run_ids, keep, failed)


def _run_group(plan: _Group, checkpoint_every: float, progress: SweepProgress) -> tuple[int, int]:
    """Train one group, resuming from its checkpoint; returns (finished, failed) run counts.
    An exception fails every run the group writes; a non-finite loss fails that run."""
    todo = plan.todo
    progress.start_group(
        plan.directory.name, len(plan.run_ids), len(plan.run_ids) * plan.spec.steps
    )
    checkpointer = Checkpointer(plan.directory / CHECKPOINT, plan.spec, checkpoint_every)
    try:
        results = train(
            plan.spec,
            plan.directory,
            checkpointer=checkpointer,
            progress=progress.phase,
            keep=plan.keep,
        )
    except Exception as error:  # a crash fails this group's runs, not the sweep
        reason = f"{type(error).__name__}: {error}"
        for name in todo:
            write_json(
                plan.directory / name / "summary.json", {"status": "failed", "reason": reason}
            )
        checkpointer.remove()
        progress.end_group(0, len(todo))
        return 0, len(todo)
    failed = 0
    for result in results:
        bad = result.summary.get("nonfinite_loss")
        if result.run_id in plan.keep or bad is None:
            continue
        reason = f"non-finite {bad['loss']} (mean over the chunk ending at step {bad['step']})"
        write_json(
            plan.directory / result.run_id / "summary.json", {"status": "failed", "reason": reason}
        )
        failed += 1
    progress.end_group(len(todo) - failed, failed)
    return len(todo) - failed, failed
