"""Run a plan: drive its runner chunk by chunk (every loop family alike), write every run."""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from sparserl.agents import env_preset
from sparserl.experiment.plan import ONLINE, Plan, RunPlan
from sparserl.experiment.spec import TrainSpec, resolve
from sparserl.rundir.atomic import write_csv, write_json
from sparserl.rundir.cosines import save_gradient_cosines
from sparserl.rundir.networks import NetworkWriter, initial_params
from sparserl.rundir.schema import (
    ACTIVE,
    CONFIG,
    DENSITY,
    EVAL_RETURN,
    FORMAT_KEY,
    FORMAT_VERSION,
    METRICS,
    NETWORK_COLUMNS,
    STEP,
    SUMMARY,
    TRAINING_COLUMNS,
    diagnostic_column,
)
from sparserl.train.checkpoint import Checkpointer, CheckpointError, HistoryEntry, restore
from sparserl.train.core.probing import DIAGNOSTICS_KEY, GRADIENT_COSINE_KEY, diagnostics_of
from sparserl.train.lock import hold
from sparserl.train.progress import Progress
from sparserl.train.runner import Runner, make_runner
from sparserl.versions import versions

# Makes the progress display of a phase: (steps per run, runs, label) -> .update(steps, return).
ProgressFactory = Callable[[int, int, str], Any]


@dataclasses.dataclass
class RunResult:
    """One finished run: its grid point, metrics over time and summary."""

    run_id: str
    point: dict[str, Any]
    metrics: list[dict[str, Any]]
    summary: dict[str, Any]


def final_score(returns: list[float]) -> float:
    """Mean of the last 10% of evaluations (at least one), as in the papers."""
    count = max(1, round(0.1 * len(returns)))
    return float(np.mean(returns[-count:]))


def _run_phase(
    runner: Runner,
    steps: int,
    interval: int,
    label: str,
    progress: ProgressFactory,
    runs: int,
    on_chunk,
    saver: _Saver,
):
    """Call the runner's chunks for the whole run (from the saver's checkpoint, if it has one),
    then close it; returns the history of chunk metrics."""
    try:
        history = saver.resume(runner)
        shown = progress(steps, runs, label)
        chunks = steps // interval
        for chunk in range(len(history), chunks):
            metrics = runner.chunk(chunk)
            # kept out of the history (and checkpoints): written once, beside each run
            cosines = metrics.pop(GRADIENT_COSINE_KEY, {})
            done = (chunk + 1) * interval
            history.append((done, time.perf_counter(), metrics))
            shown.update(done, float(np.mean(metrics["eval_return"])))
            if on_chunk is not None:
                on_chunk(history, cosines)
            if chunk + 1 < chunks:
                saver.maybe_save(runner, history)
    finally:  # host runners own environments
        runner.close()
    return history


class _Saver:
    """A group's start time and checkpointing inside `train`: restores the runner and the start
    time from a checkpoint, then saves at chunk boundaries when the checkpointer says it is due
    (without a checkpointer, only the start time)."""

    def __init__(self, checkpointer: Checkpointer | None, t0: float):
        self.checkpointer, self.t0 = checkpointer, t0

    def resume(self, runner) -> list[HistoryEntry]:
        """The history so far, after restoring `runner`; empty (runner untouched) without a
        usable checkpoint."""
        if self.checkpointer is None:
            return []
        try:
            checkpoint = self.checkpointer.load()
            if checkpoint is None:
                return []
            runner.restore(restore(runner.checkpoint(), checkpoint), checkpoint.chunks)
        except CheckpointError as error:
            print(f"checkpoint not used, the group restarts: {error}", file=sys.stderr)
            return []
        self.t0 = time.perf_counter() - checkpoint.elapsed
        return [(steps, self.t0 + seconds, m) for steps, seconds, m in checkpoint.history]

    def maybe_save(self, runner, history: list[HistoryEntry]) -> None:
        if self.checkpointer is not None and self.checkpointer.due():
            self.checkpointer.save(runner.checkpoint(), history, self.t0)


def train(
    spec: TrainSpec | Plan,
    out: str | Path | None = None,
    *,
    checkpointer: Checkpointer | None = None,
    progress: ProgressFactory = Progress,
    keep: Collection[str] = (),
) -> list[RunResult]:
    """Train the grid of `spec` (or of a plan `resolve` made of it); write one directory per
    run under `out` if given, except the runs named in `keep` (finished runs a resumed sweep
    leaves alone). With a `checkpointer`, resume from its checkpoint, save at chunk
    boundaries and delete it once the summaries are written; a lottery rewind (two phases)
    is never checkpointed and restarts. `progress(steps, runs, label)` makes the display of a
    phase. One process at a time writes into `out`: DirectoryInUse if another holds it (see
    `lock.hold`)."""
    plan = spec if isinstance(spec, Plan) else resolve(spec)
    if out is None:
        return _train(plan, None, checkpointer, progress)
    with hold(Path(out), "training run", depth=1):
        return _train(plan, _Output(Path(out), frozenset(keep)), checkpointer, progress)


def _train(plan: Plan, output, checkpointer, progress) -> list[RunResult]:
    """Every phase of the plan in turn (one, or a lottery rewind's two): a runner from the
    family table, driven chunk by chunk; the last phase's runs are written."""
    spec, phases = plan.spec, plan.phases
    saver = _Saver(checkpointer if len(phases) == 1 else None, time.perf_counter())
    sizes = _LayerSizes.of(plan.runs[0].budget)
    histories, masks, initial = [], None, None
    for number, methods in enumerate(phases):
        label = f"{spec.agent} {spec.env} " + "/".join(sorted({m.name for m in methods.values()}))
        if len(phases) > 1:
            label += f" (phase {number + 1}/{len(phases)})"
        runner = make_runner(plan, number, masks)
        if output is not None and number == 0:  # the weights a lottery rewinds to
            initial = initial_params(runner.networks())
        writer = None
        if output is not None and number == len(phases) - 1:
            networks = _networks(plan, runner, initial)
            writer = functools.partial(_write_all, output, plan, sizes, saver, networks)
        history = _run_phase(
            runner, spec.steps, plan.eval_interval, label, progress, len(plan.runs), writer, saver
        )
        masks = {name: net.sparse.masks for name, net in runner.networks().items()}
        histories.append(history)
    results = _results(plan, histories[-1], saver.t0, sizes)
    if len(histories) > 1:
        for run, result in zip(plan.runs, results, strict=True):
            returns = _eval_returns(histories[0], run.index)
            result.summary["pruning_phase_final_return"] = final_score(returns)
    results = _finish(output, results)
    if checkpointer is not None:
        checkpointer.remove()
    return results


@dataclasses.dataclass(frozen=True)
class _Output:
    """Where `train` writes: one directory per run under `root`, but none for the runs in
    `keep`."""

    root: Path
    keep: frozenset[str]

    def directories(self, plan: Plan) -> list[tuple[RunPlan, Path]]:
        """(run, directory) of every run written."""
        return [(run, self.root / run.run_id) for run in plan.runs if run.run_id not in self.keep]


def _finish(output: _Output | None, results: list[RunResult]) -> list[RunResult]:
    if output is not None:
        for result in results:
            if result.run_id not in output.keep:
                summary = {**result.summary, FORMAT_KEY: FORMAT_VERSION}
                write_json(output.root / result.run_id / SUMMARY, summary)
    return results


def _eval_returns(history, index: int) -> list[float]:
    return [float(m["eval_return"][index]) for _, _, m in history]


@dataclasses.dataclass(frozen=True)
class _LayerSizes:
    """Per-layer dense sizes and the count of never-masked parameters: the same for every
    run and chunk of a grid, so computed once per `train` call."""

    dense: dict[str, int]
    other: int

    @classmethod
    def of(cls, budget: dict[str, Any]) -> _LayerSizes:
        return cls(
            dense={layer["layer"]: layer["size"] for layer in budget["layers"]},
            other=budget["parameters"] - budget["weights"],
        )


def _metric_rows(history, index: int, sizes: _LayerSizes, t0: float):
    dense_weights, other = sizes.dense, sizes.other
    rows = []
    for steps, now, metrics in history:
        active = {k: int(v[index]) for k, v in metrics["online"]["active"].items()}
        weights = sum(active.values())
        # PPO has no target networks: its target counts are empty and the sums 0.
        outside = {
            net: sum(int(v[index]) for v in metrics[net].get("outside", {}).values())
            for net in ("online", "target")
        }
        target_excess = sum(
            max(0, int(v[index]) - active[k])
            for k, v in metrics["target"].get("nonzero", {}).items()
        )
        training = (float(metrics["train_return"][index]), int(metrics["train_episodes"][index]))
        network = (
            weights + other,
            1.0 - weights / sum(dense_weights.values()),
            outside["online"],
            outside["target"],
            target_excess,
            round(now - t0, 3),
        )
        row = {
            STEP: steps,
            EVAL_RETURN: float(metrics["eval_return"][index]),
            **dict(zip(TRAINING_COLUMNS, training, strict=True)),
            **{name: float(v[index]) for name, v in metrics["losses"].items()},
            **dict(zip(NETWORK_COLUMNS, network, strict=True)),
        }
        row.update({f"{ACTIVE}{k}": active[k] for k in active})
        row.update({f"{DENSITY}{k}": active[k] / dense_weights[k] for k in active})
        row.update(_diagnostics(metrics.get(DIAGNOSTICS_KEY, {}), index))
        rows.append(row)
    return rows


def _diagnostics(probed: dict[str, dict[str, np.ndarray]], index: int) -> dict[str, Any]:
    """Run `index`'s probe measures as metrics columns (none for a chunk without a probe);
    integer measures (srank) stay integers (arrays, or lists from a checkpoint's history)."""
    return {
        diagnostic_column(network, key): np.asarray(value)[index].item()
        for network, measures in probed.items()
        for key, value in measures.items()
    }


def _config(plan: Plan, run: RunPlan) -> dict[str, Any]:
    """A run's config.json: what the plan decided for it."""
    spec, probe = plan.spec, diagnostics_of(plan)
    one_network = plan.networks == (ONLINE,)
    if one_network:
        method = dataclasses.asdict(run.methods[ONLINE])
    else:
        method = {n: dataclasses.asdict(m) for n, m in run.methods.items()}
    return {
        FORMAT_KEY: FORMAT_VERSION,
        "agent": spec.agent,
        "env": spec.env,
        # the environment's options as built (the preset's, then the spec's)
        "env_options": {**env_preset(spec.agent, spec.preset), **spec.env_options},
        "method": spec.method,
        "network_methods": None if one_network else {n: m.name for n, m in plan.methods.items()},
        "actor_fraction": spec.actor_fraction,
        "seed": run.seed,
        "sparsity": run.sparsity,
        "match_sparsity": spec.match_sparsity,
        "steps": spec.steps,
        "eval_interval": plan.eval_interval,
        "eval_episodes": spec.eval_episodes,
        "total_updates": plan.total_updates,
        "preset": plan.preset,
        "agent_config": dataclasses.asdict(run.agent_config),
        "method_config": method,
        # the method of each phase (of the last network: the critic of an actor-critic agent)
        "phases": [list(phase.values())[-1].name for phase in plan.phases],
        # the in-loop probe: every k-th evaluation (0: off), on this many examples
        "diagnostics_every": spec.diagnostics_every,
        "diagnostics_batch": None if probe is None else probe.batch_size,
        "versions": versions(),
    }


def _networks(plan: Plan, runner: Runner, initial: dict[str, Any]) -> NetworkWriter:
    """What saves the runs' networks: after the last evaluation, and every
    `save_networks_every`-th if set."""
    evaluations = plan.spec.steps // plan.eval_interval
    return NetworkWriter(runner, initial, evaluations, plan.spec.save_networks_every)


def _write_all(
    output: _Output,
    plan: Plan,
    sizes: _LayerSizes,
    saver: _Saver,
    networks: NetworkWriter,
    history: list[HistoryEntry],
    cosines: dict[str, np.ndarray],
) -> None:
    """Rewrite each run's config and metrics after every chunk (atomic, so always valid); the
    config after the first chunk, or the first after a resume if it is missing; the chunk's
    gradient cosine matrices ({network: [R, N, N]}) if it saved any; the networks when due
    (the final ones before the summary marks the run finished)."""
    t0 = saver.t0
    directories = output.directories(plan)
    for run, directory in directories:
        if len(history) == 1 or not (directory / CONFIG).is_file():
            write_json(directory / CONFIG, _config(plan, run))
        write_csv(directory / METRICS, _metric_rows(history, run.index, sizes, t0))
        if cosines:
            matrices = {name: m[run.index] for name, m in cosines.items()}
            save_gradient_cosines(directory, history[-1][0], matrices)
    if networks.due(len(history)):
        networks.write([(run.index, d) for run, d in directories], len(history), history[-1][0])


# A run diverged when a chunk's mean loss (any of its losses) is non-finite or above this in
# absolute value. A value loss is bounded by the range of the values: |TD error| <= 2 r_max /
# (1 - gamma), 2,000 for rewards up to 10 a step at gamma 0.99 (MuJoCo), so squared errors stay
# below 4e6 and Huber losses below 2e3; policy, entropy and temperature losses are smaller
# still. 1e8 leaves a 25x margin; DQN on CartPole with learning rate 1e6 has a first chunk's
# mean loss of 2e17-8e18 (measured: 500 and 100 steps, hidden [16, 16], seeds 0 and 1).
DIVERGED_LOSS = 1e8


def divergence(rows: list[dict[str, Any]], loss_names: Collection[str]) -> dict[str, Any] | None:
    """The first chunk whose mean loss breaks the DIVERGED_LOSS rule, as {"step", "loss",
    "value" (as text: NaN has no JSON number), "bound"}, or None if none does."""
    for row in rows:
        for name in loss_names:
            if not abs(row[name]) <= DIVERGED_LOSS:  # NaN fails every comparison
                value = f"{row[name]:.3g}"
                return {"step": row["step"], "loss": name, "value": value, "bound": DIVERGED_LOSS}
    return None


def _results(plan: Plan, history, t0: float, sizes: _LayerSizes) -> list[RunResult]:
    wall = time.perf_counter() - t0
    results = []
    for run in plan.runs:
        budget = run.budget
        rows = _metric_rows(history, run.index, sizes, t0)
        returns = [row["eval_return"] for row in rows]
        loss_names = history[0][2]["losses"]
        diverged = divergence(rows, loss_names)
        summary = {
            "status": "finished",
            "final_return": final_score(returns),
            "evaluations": len(returns),
            "parameters": rows[-1]["parameters"],
            "sparsity": rows[-1]["sparsity"],
            "dense_parameters": budget["dense_weights"] + sizes.other,
            "inference_flops": budget["inference_flops"],
            "training_flops_per_example": budget["training_flops"],
            "group_wall_s": round(wall, 3),
            "group_runs": len(plan.runs),
            "finite_loss": all(math.isfinite(row[k]) for row in rows for k in loss_names),
        }
        if diverged is not None:
            summary["diverged"] = diverged
        if "networks" in budget:
            summary["networks"] = {
                n: {k: b[k] for k in ("weights", "dense_weights", "parameters", "sparsity")}
                for n, b in budget["networks"].items()
            }
        results.append(RunResult(run.run_id, dict(run.point), rows, summary))
    return results
