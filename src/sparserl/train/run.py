"""Run a resolved spec: build the vmapped grid, drive the compiled chunks, write every run."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.agents import PPO, default_preset, env_preset
from sparserl.envs import AtariEnv, HostEnv
from sparserl.rundir.atomic import write_csv, write_json
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
)
from sparserl.train.accounting import agent_budget
from sparserl.train.checkpoint import Checkpointer, CheckpointError, HistoryEntry, restore
from sparserl.train.lock import hold
from sparserl.train.off_policy_program import OffPolicyProgram
from sparserl.train.on_policy_program import OnPolicyProgram
from sparserl.train.point import RunPoint
from sparserl.train.progress import Progress
from sparserl.train.runners import (
    JaxEnvRunner,
    OffPolicyHostRunner,
    OnPolicyHostRunner,
    ValueHostRunner,
    ValueRunner,
)
from sparserl.train.spec import ResolvedSpec, TrainSpec, resolve
from sparserl.train.value_host_program import ValueHostProgram
from sparserl.train.value_program import ValueProgram
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


def run_id(spec: TrainSpec, point: dict[str, Any]) -> str:
    """A readable, unique directory name for one run of the grid ("ALE/Pong-v5" becomes
    "ALE-Pong-v5": one directory, not two)."""
    parts = [spec.agent, spec.env, spec.method]
    if point["sparsity"] is not None:
        parts.append(f"sparsity{point['sparsity']:g}")
    parts += [f"{name}{point[name]:g}" for name in spec.sweep]
    parts.append(f"seed{point['seed']}")
    return filesystem_safe("_".join(parts))


def filesystem_safe(name: str) -> str:
    """`name` with every character but letters, digits and `._=+-` replaced by `-`."""
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", name)


def _points(resolved: ResolvedSpec, targets_for, grid) -> RunPoint:
    """Stack the grid into one batched RunPoint; `targets_for(sparsity)` gives a run's targets."""
    cfg = resolved.agent.config
    keys, targets, lrs, wds, gammas = [], [], [], [], []
    for point in grid:
        keys.append(jax.random.key(point["seed"]))
        targets.append(targets_for(point["sparsity"]))
        lrs.append(point.get("learning_rate", cfg.learning_rate))
        wds.append(point.get("weight_decay", cfg.weight_decay))
        gammas.append(point.get("gamma", cfg.gamma))
    return RunPoint(
        key=jnp.stack(keys),
        targets=jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *targets),
        learning_rate=jnp.asarray(lrs, jnp.float32),
        weight_decay=jnp.asarray(wds, jnp.float32),
        gamma=jnp.asarray(gammas, jnp.float32),
    )


def _run_phase(
    runner,
    steps: int,
    interval: int,
    label: str,
    progress: ProgressFactory,
    runs: int,
    on_chunk,
    saver: _Saver,
):
    """Call the runner's chunks for the whole run (from the saver's checkpoint, if it has one),
    then close its environments, if it has any; returns the history of chunk metrics."""
    try:
        history = saver.resume(runner)
        shown = progress(steps, runs, label)
        chunks = steps // interval
        for chunk in range(len(history), chunks):
            metrics = runner.chunk(chunk)
            done = (chunk + 1) * interval
            history.append((done, time.perf_counter(), metrics))
            shown.update(done, float(np.mean(metrics["eval_return"])))
            if on_chunk is not None:
                on_chunk(history)
            if chunk + 1 < chunks:
                saver.maybe_save(runner, history)
    finally:  # host runners own environments
        if hasattr(runner, "close"):
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
            runner.restore(restore(runner.state(), checkpoint), checkpoint.chunks)
        except CheckpointError as error:
            print(f"checkpoint not used, the group restarts: {error}", file=sys.stderr)
            return []
        self.t0 = time.perf_counter() - checkpoint.elapsed
        return [(steps, self.t0 + seconds, m) for steps, seconds, m in checkpoint.history]

    def maybe_save(self, runner, history: list[HistoryEntry]) -> None:
        if self.checkpointer is not None and self.checkpointer.due():
            self.checkpointer.save(runner.state(), history, self.t0)


def train(
    spec: TrainSpec,
    out: str | Path | None = None,
    *,
    checkpointer: Checkpointer | None = None,
    progress: ProgressFactory = Progress,
    keep: Collection[str] = (),
) -> list[RunResult]:
    """Train the grid of `spec`; write one directory per run under `out` if given, except
    the runs named in `keep` (finished runs a resumed sweep leaves alone). With a
    `checkpointer`, resume from its checkpoint, save at chunk boundaries and delete it once
    the summaries are written; a lottery rewind (two phases) is never checkpointed and
    restarts. `progress(steps, runs, label)` makes the display of a phase. One process at a
    time writes into `out`: DirectoryInUse if another holds it (see `lock.hold`)."""
    resolved = resolve(spec)
    if out is None:
        return _train(resolved, None, checkpointer, progress)
    with hold(Path(out), "training run", depth=1):
        return _train(resolved, _Output(Path(out), frozenset(keep)), checkpointer, progress)


def _train(resolved: ResolvedSpec, output, checkpointer, progress) -> list[RunResult]:
    if resolved.networks is not None:
        results = _train_actor_critic(resolved, output, checkpointer, progress)
    else:
        results = _train_value(resolved, output, checkpointer, progress)
    if checkpointer is not None:
        checkpointer.remove()
    return results


def _train_value(resolved, output, checkpointer, progress) -> list[RunResult]:
    """Value-based agents (DQN, Rainbow, IQN): one program per phase over the grid."""
    spec, grid = resolved.spec, resolved.grid()
    saver = _Saver(checkpointer if len(resolved.phases) == 1 else None, time.perf_counter())
    params = value_param_shapes(resolved)

    sizes = _LayerSizes.of(agent_budget(resolved, None))
    phase_results = []
    masks = initial = None
    for number, method in enumerate(resolved.phases):
        points = _points(resolved, functools.partial(method.targets, params), grid)
        if masks is not None:
            points = points.replace(masks=masks)
        label = f"{spec.agent} {spec.env} {method.name}"
        if len(resolved.phases) > 1:
            label += f" (phase {number + 1}/{len(resolved.phases)})"
        runner = _value_runner(resolved, method, points)
        if output is not None and number == 0:  # the weights a lottery rewinds to
            initial = initial_params(runner.networks())
        writer = None
        if output is not None and number == len(resolved.phases) - 1:
            networks = _networks(resolved, runner, initial)
            writer = functools.partial(_write_all, output, resolved, grid, sizes, saver, networks)
        history = _run_phase(
            runner, spec.steps, resolved.eval_interval, label, progress, len(grid), writer, saver
        )
        masks = runner.runs.sparse.masks
        phase_results.append(history)
    results = _results(resolved, grid, phase_results[-1], saver.t0, sizes)
    if len(phase_results) > 1:
        pruned = [_eval_returns(phase_results[0], i) for i in range(len(grid))]
        for result, returns in zip(results, pruned, strict=True):
            result.summary["pruning_phase_final_return"] = final_score(returns)
    return _finish(output, results)


def value_param_shapes(resolved: ResolvedSpec) -> Any:
    """The shapes of a resolved value agent's network parameters (the mask targets need no
    values, and initialising a CNN eagerly costs seconds)."""
    return jax.eval_shape(
        ValueProgram(resolved.agent, resolved.env, resolved.method, 1).example_params
    )


def _value_runner(resolved: ResolvedSpec, method, points: RunPoint):
    """The runner of one phase: compiled chunks on a JAX environment, host-stepped games on
    Atari."""
    agent, env, episodes = resolved.agent, resolved.env, resolved.spec.eval_episodes
    if isinstance(env, AtariEnv):
        program = ValueHostProgram(agent, env, method, episodes)
        seeds = [p["seed"] for p in resolved.grid()]
        return ValueHostRunner(program, points, resolved.eval_interval, seeds)
    return ValueRunner(ValueProgram(agent, env, method, episodes), points, resolved.eval_interval)


def value_points(resolved: ResolvedSpec) -> RunPoint:
    """The batched grid points (seeds, mask targets, swept values) of a resolved value-agent
    spec's first phase: what its program's `init_run` takes, vmapped."""
    targets = functools.partial(resolved.method.targets, value_param_shapes(resolved))
    return _points(resolved, targets, resolved.grid())


def value_runner(resolved: ResolvedSpec):
    """A fresh runner for the grid of a resolved value-agent spec (its first phase), to be
    driven chunk by chunk or step by step (benchmarks, tests)."""
    return _value_runner(resolved, resolved.method, value_points(resolved))


def actor_critic_program(
    resolved: ResolvedSpec,
) -> tuple[OffPolicyProgram | OnPolicyProgram, RunPoint]:
    """The program of a resolved actor-critic spec (off-policy for SAC / TD3, on-policy for
    PPO) and its batched grid points."""
    spec = resolved.spec
    program_cls = OnPolicyProgram if isinstance(resolved.agent, PPO) else OffPolicyProgram
    program = program_cls(
        resolved.agent,
        resolved.env,
        tuple(resolved.networks.items()),
        spec.eval_episodes,
        spec.steps,
    )
    params = jax.eval_shape(program.example_params)

    def targets_for(level):
        return {n: m.targets(params[n]) for n, m in resolved.methods_at(level).items()}

    return program, _points(resolved, targets_for, resolved.grid())


def _train_actor_critic(resolved, output, checkpointer, progress) -> list[RunResult]:
    """SAC / TD3 / PPO: one program over the grid, on a JAX or a host environment."""
    spec, grid = resolved.spec, resolved.grid()
    saver = _Saver(checkpointer, time.perf_counter())
    program, points = actor_critic_program(resolved)

    sizes = _LayerSizes.of(agent_budget(resolved, (spec.sparsities or (None,))[0]))
    if isinstance(resolved.env, HostEnv):
        host_runner = (
            OnPolicyHostRunner if isinstance(program, OnPolicyProgram) else OffPolicyHostRunner
        )
        runner = host_runner(program, points, resolved.eval_interval, [p["seed"] for p in grid])
    else:
        runner = JaxEnvRunner(program, points, resolved.eval_interval)
    writer = None
    if output is not None:
        networks = _networks(resolved, runner, initial_params(runner.networks()))
        writer = functools.partial(
            _write_all,
            output,
            resolved,
            grid,
            sizes,
            saver,
            networks,
            methods_at=resolved.methods_at,
        )
    label = f"{spec.agent} {spec.env} " + "/".join(
        sorted({m.name for m in resolved.networks.values()})
    )
    history = _run_phase(
        runner, spec.steps, resolved.eval_interval, label, progress, len(grid), writer, saver
    )
    results = _results(resolved, grid, history, saver.t0, sizes)
    return _finish(output, results)


@dataclasses.dataclass(frozen=True)
class _Output:
    """Where `train` writes: one directory per run under `root`, but none for the runs in
    `keep`."""

    root: Path
    keep: frozenset[str]

    def directories(self, resolved: ResolvedSpec, grid) -> list[tuple[int, Path]]:
        """(grid index, directory) of every run written."""
        ids = [run_id(resolved.spec, point) for point in grid]
        return [(i, self.root / name) for i, name in enumerate(ids) if name not in self.keep]


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
        rows.append(row)
    return rows


def _config(resolved: ResolvedSpec, point: dict[str, Any], methods_at=None) -> dict[str, Any]:
    spec = resolved.spec
    if methods_at is not None:
        method = {n: dataclasses.asdict(m) for n, m in methods_at(point["sparsity"]).items()}
    else:
        method = dataclasses.asdict(resolved.phases[-1])
        if point["sparsity"] is not None:
            method["sparsity"] = point["sparsity"]
    agent = dataclasses.asdict(resolved.agent.config)
    agent.update({k: point[k] for k in spec.sweep})
    return {
        FORMAT_KEY: FORMAT_VERSION,
        "agent": spec.agent,
        "env": spec.env,
        # the environment's options as built (the preset's, then the spec's)
        "env_options": {**env_preset(spec.agent, spec.preset), **spec.env_options},
        "method": spec.method,
        "network_methods": None
        if methods_at is None
        else {n: m.name for n, m in resolved.networks.items()},
        "actor_fraction": spec.actor_fraction,
        "seed": point["seed"],
        "sparsity": point["sparsity"],
        "match_sparsity": spec.match_sparsity,
        "steps": spec.steps,
        "eval_interval": resolved.eval_interval,
        "eval_episodes": spec.eval_episodes,
        "total_updates": resolved.total_updates,
        "preset": spec.preset or default_preset(spec.agent, resolved.env),
        "agent_config": agent,
        "method_config": method,
        "phases": [m.name for m in resolved.phases],
        "versions": versions(),
    }


def _networks(resolved: ResolvedSpec, runner, initial) -> NetworkWriter:
    """What saves the runs' networks: after the last evaluation, and every
    `save_networks_every`-th if set."""
    evaluations = resolved.spec.steps // resolved.eval_interval
    return NetworkWriter(runner, initial, evaluations, resolved.spec.save_networks_every)


def _write_all(
    output: _Output,
    resolved,
    grid,
    sizes: _LayerSizes,
    saver: _Saver,
    networks: NetworkWriter,
    history,
    *,
    methods_at=None,
) -> None:
    """Rewrite each run's config and metrics after every chunk (atomic, so always valid); the
    config after the first chunk, or the first after a resume if it is missing; the networks
    when due (the final ones before the summary marks the run finished)."""
    t0 = saver.t0
    directories = output.directories(resolved, grid)
    for index, directory in directories:
        if len(history) == 1 or not (directory / CONFIG).is_file():
            write_json(directory / CONFIG, _config(resolved, grid[index], methods_at))
        write_csv(directory / METRICS, _metric_rows(history, index, sizes, t0))
    if networks.due(len(history)):
        networks.write(directories, len(history), history[-1][0])


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


def _results(resolved, grid, history, t0, sizes) -> list[RunResult]:
    wall = time.perf_counter() - t0
    results = []
    for index, point in enumerate(grid):
        budget = agent_budget(resolved, point["sparsity"])
        rows = _metric_rows(history, index, sizes, t0)
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
            "group_runs": len(grid),
            "finite_loss": all(math.isfinite(row[k]) for row in rows for k in loss_names),
        }
        if diverged is not None:
            summary["diverged"] = diverged
        if "networks" in budget:
            summary["networks"] = {
                n: {k: b[k] for k in ("weights", "dense_weights", "parameters", "sparsity")}
                for n, b in budget["networks"].items()
            }
        results.append(RunResult(run_id(resolved.spec, point), point, rows, summary))
    return results
