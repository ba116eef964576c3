"""Run a sweep into DIR/<group_id>/<run_id>, group after group on this machine or one Ray task
per group: finished runs are skipped, interrupted groups resume from their checkpoint,
failures are recorded and the sweep goes on.

Resume rules, per run directory: finished -> kept; failed -> kept (redone with
`retry_failed`); corrupt -> moved aside to `.<run>.corrupt-<timestamp>` and redone; partial or
missing -> (re)done. A group runs as a whole (its runs share one vmapped program): it resumes
from DIR/<group_id>/checkpoint.npz if that is this spec's, else restarts, and never rewrites
the files of the runs it keeps.

One sweep at a time writes into DIR: it holds DIR/.lock while it runs (released by the system
even if it is killed), and a second one is refused, naming the first one's pid and host. A
file that cannot be written (disk full, read-only) fails the group's runs with that one-line
reason; if even their failure cannot be recorded, the sweep stops with one line naming the
path (OutputError)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sparserl.results import RunStatus, inspect_run
from sparserl.rundir.atomic import output_error, remove_file, write_atomic
from sparserl.rundir.schema import CHECKPOINT, SUMMARY
from sparserl.sweeps.grid import check, expand, group_id, planned_runs
from sparserl.sweeps.groups import Group, run_group
from sparserl.sweeps.progress import SweepProgress
from sparserl.sweeps.ray_backend import RayOptions, run_on_ray
from sparserl.sweeps.spec import SweepSpec, SweepSpecError, parse
from sparserl.train import Plan, TrainSpec
from sparserl.train.checkpoint import Checkpointer
from sparserl.train.lock import hold

SPEC_FILE = "sweep.yaml"
BACKENDS = ("local", "ray")


@dataclasses.dataclass
class SweepOutcome:
    """Run counts of a sweep after `run_sweep`: kept from before, finished now, failed now."""

    kept: int = 0
    finished: int = 0
    failed: int = 0


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    backend: str = "local",
    retry_failed: bool = False,
    checkpoint_every: float = 600.0,
    stream=None,
    ray: RayOptions | None = None,
) -> SweepOutcome:
    """Run every group of `spec` into `out`, one after another on this machine (`local`) or as
    one Ray task per group (`ray`, see RayOptions). Raises SweepSpecError before writing
    anything if the backend is unknown or unavailable, a group cannot run or `out` holds
    another sweep; DirectoryInUse if another sweep is running there."""
    if backend not in BACKENDS:
        raise SweepSpecError(f"backend {backend!r} is not one of {list(BACKENDS)}")
    if backend == "ray":
        ray = ray or RayOptions()
        ray.check()
    elif ray is not None:
        raise SweepSpecError(f"Ray options {ray} are for backend 'ray', not {backend!r}")
    out = Path(out).absolute()  # Ray workers may start elsewhere
    groups = expand(spec)
    resolved = check(groups)
    _check_spec(out, spec)  # before the lock: another sweep's directory is left untouched
    with hold(out, "sweep", depth=2):  # the Ray backend's driver holds it for its tasks
        if not _check_spec(out, spec):
            write_atomic(out / SPEC_FILE, yaml.safe_dump(spec_data(spec), sort_keys=False))
        runs = planned_runs(groups)
        plans = [
            _prepare(out, g, p, [r for gid, r in runs if gid == group_id(g)], retry_failed)
            for g, p in zip(groups, resolved, strict=True)
        ]
        kept = sum(len(p.keep) for p in plans)
        failed_before = sum(p.failed for p in plans)
        work = sum(p.work for p in plans if p.todo)
        progress = SweepProgress(len(runs), kept - failed_before, failed_before, work, stream)
        for plan in plans:
            if not plan.todo:
                Checkpointer(plan.directory / CHECKPOINT, plan.spec).remove()
        todo = [p for p in plans if p.todo]
        try:
            if backend == "ray":
                counts = run_on_ray(todo, checkpoint_every, progress, ray)
            else:
                counts = [_run_locally(plan, checkpoint_every, progress) for plan in todo]
        finally:  # an error is then shown on a line of its own
            progress.close()
        return SweepOutcome(
            kept=kept, finished=sum(f for f, _ in counts), failed=sum(f for _, f in counts)
        )


def _run_locally(plan: Group, checkpoint_every: float, progress: SweepProgress) -> tuple[int, int]:
    label = plan.directory.name
    progress.start_group(label, len(plan.run_ids), plan.work)
    finished, failed = run_group(plan, checkpoint_every, progress.phase(label))
    progress.end_group(label, finished, failed)
    return finished, failed


def _check_spec(out: Path, spec: SweepSpec) -> bool:
    """Whether out/sweep.yaml is there (False: a new sweep); raises SweepSpecError if it is
    another sweep's."""
    path = out / SPEC_FILE
    if not path.is_file():
        return False
    try:
        existing = parse(yaml.safe_load(path.read_text()))
    except (SweepSpecError, yaml.YAMLError) as error:
        raise SweepSpecError(f"{path} cannot be read back ({error})") from None
    if existing != spec:
        raise SweepSpecError(
            f"{out} holds another sweep ({path}); use a new --out or restore that spec"
        )
    return True


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
    # None and empty values are the defaults; parse refuses an empty list (sparsities: [])
    return {k: v for k, v in data.items() if v not in (None, [], {})}


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively, for YAML."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _prepare(
    out: Path, spec: TrainSpec, plan: Plan, run_ids: list[str], retry_failed: bool
) -> Group:
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
            remove_file(path / SUMMARY)
        elif record.status == RunStatus.CORRUPT:
            # hidden, so results.load does not list it again
            aside = path.with_name(f".{name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                path.rename(aside)
            except OSError as error:
                raise output_error("move aside", path, error) from None
    return Group(spec, plan, directory, run_ids, keep, failed)
