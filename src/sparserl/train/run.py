"""Run a resolved spec: build the vmapped grid, drive the compiled chunks, write every run."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.agents import PPO, default_preset
from sparserl.envs import HostEnv
from sparserl.train.accounting import agent_budget
from sparserl.train.off_policy_program import OffPolicyProgram
from sparserl.train.on_policy_program import OnPolicyProgram
from sparserl.train.outputs import write_csv, write_json
from sparserl.train.point import RunPoint
from sparserl.train.progress import Progress
from sparserl.train.runners import (
    JaxEnvRunner,
    OffPolicyHostRunner,
    OnPolicyHostRunner,
    ValueRunner,
)
from sparserl.train.spec import ResolvedSpec, TrainSpec, resolve
from sparserl.train.value_program import ValueProgram
from sparserl.versions import versions


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
    """A readable, unique directory name for one run of the grid."""
    parts = [spec.agent, spec.env, spec.method]
    if point["sparsity"] is not None:
        parts.append(f"sparsity{point['sparsity']:g}")
    parts += [f"{name}{point[name]:g}" for name in spec.sweep]
    parts.append(f"seed{point['seed']}")
    return "_".join(parts)


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


def _run_phase(runner, steps: int, interval: int, runs: int, label: str, on_chunk=None):
    """Call the runner's chunks for the whole run; returns the history of chunk metrics."""
    progress = Progress(steps, runs, label)
    history = []
    for chunk in range(steps // interval):
        metrics = runner.chunk(chunk)
        done = (chunk + 1) * interval
        history.append((done, time.perf_counter(), metrics))
        progress.update(done, float(np.mean(metrics["eval_return"])))
        if on_chunk is not None:
            on_chunk(history)
    return history


def train(spec: TrainSpec, out: str | Path | None = None) -> list[RunResult]:
    """Train the grid of `spec`; write one directory per run under `out` if given."""
    resolved = resolve(spec)
    if resolved.networks is not None:
        return _train_actor_critic(resolved, out)
    grid = resolved.grid()
    out = Path(out) if out is not None else None
    start_time = time.perf_counter()
    params = ValueProgram(resolved.agent, resolved.env, resolved.method, 1).example_params()

    def budget_for(point):
        return agent_budget(resolved, point["sparsity"])

    sizes = _LayerSizes.of(agent_budget(resolved, None))
    phase_results = []
    masks = None
    for number, method in enumerate(resolved.phases):
        points = _points(resolved, functools.partial(method.targets, params), grid)
        if masks is not None:
            points = points.replace(masks=masks)
        label = f"{spec.agent} {spec.env} {method.name}"
        if len(resolved.phases) > 1:
            label += f" (phase {number + 1}/{len(resolved.phases)})"
        writer = None
        if out is not None and number == len(resolved.phases) - 1:
            writer = functools.partial(_write_all, out, resolved, grid, sizes=sizes, t0=start_time)
        program = ValueProgram(resolved.agent, resolved.env, method, spec.eval_episodes)
        runner = ValueRunner(program, points, resolved.eval_interval)
        history = _run_phase(runner, spec.steps, resolved.eval_interval, len(grid), label, writer)
        masks = runner.runs.sparse.masks
        phase_results.append(history)
    results = _results(resolved, grid, phase_results[-1], start_time, budget_for, sizes)
    if len(phase_results) > 1:
        pruned = [_eval_returns(phase_results[0], i) for i in range(len(grid))]
        for result, returns in zip(results, pruned, strict=True):
            result.summary["pruning_phase_final_return"] = final_score(returns)
    return _finish(out, results)


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
    params = program.example_params()

    def targets_for(level):
        return {n: m.targets(params[n]) for n, m in resolved.methods_at(level).items()}

    return program, _points(resolved, targets_for, resolved.grid())


def _train_actor_critic(resolved: ResolvedSpec, out: str | Path | None) -> list[RunResult]:
    """SAC / TD3 / PPO: one program over the grid, on a JAX or a host environment."""
    spec, grid = resolved.spec, resolved.grid()
    out = Path(out) if out is not None else None
    start_time = time.perf_counter()
    program, points = actor_critic_program(resolved)

    def budget_for(point):
        return agent_budget(resolved, point["sparsity"])

    sizes = _LayerSizes.of(budget_for({"sparsity": (spec.sparsities or (None,))[0]}))
    if isinstance(resolved.env, HostEnv):
        host_runner = (
            OnPolicyHostRunner if isinstance(program, OnPolicyProgram) else OffPolicyHostRunner
        )
        runner = host_runner(program, points, resolved.eval_interval, [p["seed"] for p in grid])
    else:
        runner = JaxEnvRunner(program, points, resolved.eval_interval)
    writer = None
    if out is not None:
        writer = functools.partial(
            _write_all,
            out,
            resolved,
            grid,
            sizes=sizes,
            t0=start_time,
            methods_at=resolved.methods_at,
        )
    label = f"{spec.agent} {spec.env} " + "/".join(
        sorted({m.name for m in resolved.networks.values()})
    )
    try:
        history = _run_phase(runner, spec.steps, resolved.eval_interval, len(grid), label, writer)
    finally:
        if hasattr(runner, "close"):
            runner.close()
    results = _results(resolved, grid, history, start_time, budget_for, sizes)
    return _finish(out, results)


def _finish(out: Path | None, results: list[RunResult]) -> list[RunResult]:
    if out is not None:
        for result in results:
            write_json(out / result.run_id / "summary.json", result.summary)
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
        nonzeros = {k: int(v[index]) for k, v in metrics["online"]["active"].items()}
        weights = sum(nonzeros.values())
        # PPO has no target networks: its target counts are empty and the sums 0.
        outside = {
            net: sum(int(v[index]) for v in metrics[net].get("outside", {}).values())
            for net in ("online", "target")
        }
        target_excess = sum(
            max(0, int(v[index]) - nonzeros[k])
            for k, v in metrics["target"].get("nonzero", {}).items()
        )
        row = {
            "step": steps,
            "eval_return": float(metrics["eval_return"][index]),
            "train_return": float(metrics["train_return"][index]),
            "train_episodes": int(metrics["train_episodes"][index]),
            **{name: float(v[index]) for name, v in metrics["losses"].items()},
            "parameters": weights + other,
            "sparsity": 1.0 - weights / sum(dense_weights.values()),
            "weights_outside_mask": outside["online"],
            "target_weights_outside_mask": outside["target"],
            "target_excess_nonzeros": target_excess,
            "wall_s": round(now - t0, 3),
        }
        row.update({f"nonzeros/{k}": nonzeros[k] for k in nonzeros})
        row.update({f"density/{k}": nonzeros[k] / dense_weights[k] for k in nonzeros})
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
        "agent": spec.agent,
        "env": spec.env,
        "method": spec.method,
        "network_methods": None
        if methods_at is None
        else {n: m.name for n, m in resolved.networks.items()},
        "actor_fraction": spec.actor_fraction,
        "seed": point["seed"],
        "sparsity": point["sparsity"],
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


def _write_all(
    out: Path, resolved, grid, history, *, sizes: _LayerSizes, t0: float, methods_at=None
) -> None:
    """Rewrite each run's config and metrics after every chunk (atomic, so always valid)."""
    for index, point in enumerate(grid):
        directory = out / run_id(resolved.spec, point)
        if len(history) == 1:
            write_json(directory / "config.json", _config(resolved, point, methods_at))
        write_csv(directory / "metrics.csv", _metric_rows(history, index, sizes, t0))


def _results(resolved, grid, history, t0, budget_for, sizes) -> list[RunResult]:
    wall = time.perf_counter() - t0
    results = []
    for index, point in enumerate(grid):
        budget = budget_for(point)
        rows = _metric_rows(history, index, sizes, t0)
        returns = [row["eval_return"] for row in rows]
        losses = [v for row in rows for k, v in row.items() if k in history[0][2]["losses"]]
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
            "finite_loss": bool(all(math.isfinite(v) for v in losses)),
        }
        if "networks" in budget:
            summary["networks"] = {
                n: {k: b[k] for k in ("weights", "dense_weights", "parameters", "sparsity")}
                for n, b in budget["networks"].items()
            }
        results.append(RunResult(run_id(resolved.spec, point), point, rows, summary))
    return results
