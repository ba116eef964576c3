"""The Ray backend of `run_sweep`: one Ray task per group, writing into the sweep directory
(which every node must see at the same path), with the tasks' progress relayed to the driver's
display through a small actor. Ray is an optional extra and is imported only here, lazily."""

from __future__ import annotations

import dataclasses
import os

from sparserl.sweeps.groups import Group, describe, fail_group, run_group
from sparserl.sweeps.progress import GroupCounter, SweepProgress
from sparserl.sweeps.spec import SweepSpecError
from sparserl.validation import check_number, non_negative, positive

RAY_MISSING = "--backend ray needs Ray, an optional extra: pip install 'sparserl[ray]'"
# One XLA thread per task when a task reserves one CPU: otherwise every task side by side on a
# node would start one compute thread per core of the node.
SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false"


@dataclasses.dataclass(frozen=True)
class RayOptions:
    """Where and how groups run on Ray: the cluster `address` (None: the runtime this process
    has initialised, else a new one on this machine) and what each group's task reserves."""

    address: str | None = None
    cpus_per_group: float = 1.0
    gpus_per_group: float = 0.0

    def check(self) -> None:
        """Raise SweepSpecError if Ray is not installed or a reservation is out of range."""
        check_number("cpus_per_group", self.cpus_per_group, positive, SweepSpecError)
        check_number("gpus_per_group", self.gpus_per_group, non_negative, SweepSpecError)
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SweepSpecError(RAY_MISSING) from None

    def runtime_env(self) -> dict:
        """Worker environment: single-threaded XLA when a task has at most one CPU; no
        up-front GPU memory grab when tasks share a GPU."""
        env = {}
        flags = os.environ.get("XLA_FLAGS", "")
        if self.cpus_per_group <= 1 and SINGLE_THREAD_XLA not in flags:
            env["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_XLA}".strip()
        if 0 < self.gpus_per_group < 1:
            env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        return {"env_vars": env} if env else {}


def run_on_ray(
    plans: list[Group], checkpoint_every: float, progress: SweepProgress, options: RayOptions
) -> list[tuple[int, int]]:
    """Train each group as a Ray task; returns (finished, failed) per group. A runtime this
    process has initialised is used and left running; otherwise one is started (or joined, at
    `options.address`) and shut down afterwards. A task Ray loses (worker killed, node gone)
    fails its group's runs with Ray's reason."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=options.address, include_dashboard=False)
    try:
        board = ray.remote(num_cpus=0)(_Board).remote()
        task = ray.remote(
            num_cpus=options.cpus_per_group,
            num_gpus=options.gpus_per_group,
            runtime_env=options.runtime_env(),
        )
        pending = {task(_train_group).remote(plan, checkpoint_every, board): plan for plan in plans}
        counts = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=2.0)
            _replay(ray.get(board.drain.remote()), progress)
            for ref in ready:
                plan = pending.pop(ref)
                try:
                    finished, failed = ray.get(ref)
                except ray.exceptions.RayError as error:
                    finished, failed = 0, fail_group(plan, f"Ray {describe(error)}")
                progress.end_group(plan.directory.name, finished, failed)
                counts.append((finished, failed))
        return counts
    finally:
        if started:
            ray.shutdown()


def _train_group(plan: Group, checkpoint_every: float, board) -> tuple[int, int]:
    """The Ray task: announce the group (synchronously, so its start is shown before its end),
    then train it, sending each chunk's run-steps to the board."""
    import ray

    label = plan.directory.name
    ray.get(board.push.remote(("start", label, len(plan.run_ids), plan.work)))
    counter = GroupCounter(
        lambda done, seconds: board.push.remote(("advance", label, done, seconds))
    )
    return run_group(plan, checkpoint_every, counter)


class _Board:
    """Ray actor collecting the tasks' progress events until the driver drains them."""

    def __init__(self):
        self.events: list[tuple] = []

    def push(self, event: tuple) -> None:
        self.events.append(event)

    def drain(self) -> list[tuple]:
        events, self.events = self.events, []
        return events


def _replay(events: list[tuple], progress: SweepProgress) -> None:
    """Apply the board's events to the display; progress of a group already over is dropped."""
    for kind, label, *values in events:
        if kind == "start":
            progress.start_group(label, *values)
        elif label in progress.running:
            progress.advance(label, *values)
