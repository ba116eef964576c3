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

from sparserl.sparsity import SparseMethod
from sparserl.train.accounting import network_budget
from sparserl.train.outputs import write_csv, write_json
from sparserl.train.progress import Progress
from sparserl.train.spec import ResolvedSpec, TrainSpec, resolve
from sparserl.train.value_program import RunPoint, ValueProgram
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


def _points(resolved: ResolvedSpec, params: Any, method: SparseMethod, grid) -> RunPoint:
    """Stack the grid into one batched RunPoint (`params`: an example init, for the shapes)."""
    cfg = resolved.agent.config
    keys, targets, lrs, wds, gammas = [], [], [], [], []
    for point in grid:
        keys.append(jax.random.key(point["seed"]))
        targets.append(method.targets(params, point["sparsity"]))
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


def _run_phase(resolved, method, points, label, on_chunk=None):
    """Train every run of the grid with `method`; returns the final states and the history."""
    program = ValueProgram(resolved.agent, resolved.env, method, resolved.spec.eval_episodes)
    period, _ = resolved.agent.config.update_schedule()
    steps, interval = resolved.spec.steps, resolved.eval_interval
    per_chunk = interval // period
    first_learning = resolved.agent.config.first_learning_iteration()
    runs = program.compiled_init(points)
    progress = Progress(steps, len(points.gamma), label)
    history = []
    for chunk in range(steps // interval):
        start = chunk * per_chunk
        acting = min(max(first_learning - start, 0), per_chunk)
        runs, metrics = program.compiled_chunk(runs, jnp.int32(start), acting, per_chunk - acting)
        metrics = jax.device_get(metrics)
        done = (chunk + 1) * interval
        history.append((done, time.perf_counter(), metrics))
        progress.update(done, float(np.mean(metrics["eval_return"])))
        if on_chunk is not None:
            on_chunk(history)
    return runs, history


def train(spec: TrainSpec, out: str | Path | None = None) -> list[RunResult]:
    """Train the grid of `spec`; write one directory per run under `out` if given."""
    resolved = resolve(spec)
    grid = resolved.grid()
    out = Path(out) if out is not None else None
    start_time = time.perf_counter()
    network = resolved.agent.network(resolved.env)
    params = ValueProgram(resolved.agent, resolved.env, resolved.method, 1).example_params()
    sizes = _LayerSizes.of(resolved.method, network, params, resolved.env.obs_shape)
    phase_results = []
    masks = None
    for number, method in enumerate(resolved.phases):
        points = _points(resolved, params, method, grid)
        if masks is not None:
            points = points.replace(masks=masks)
        label = f"{spec.agent} {spec.env} {method.name}"
        if len(resolved.phases) > 1:
            label += f" (phase {number + 1}/{len(resolved.phases)})"
        writer = None
        if out is not None and number == len(resolved.phases) - 1:
            writer = functools.partial(_write_all, out, resolved, grid, sizes=sizes, t0=start_time)
        runs, history = _run_phase(resolved, method, points, label, writer)
        masks = runs.sparse.masks
        phase_results.append(history)
    results = _results(resolved, grid, phase_results[-1], start_time, network, params, sizes)
    if len(phase_results) > 1:
        pruned = [_eval_returns(phase_results[0], i) for i in range(len(grid))]
        for result, returns in zip(results, pruned, strict=True):
            result.summary["pruning_phase_final_return"] = final_score(returns)
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
    def of(cls, method: SparseMethod, network: Any, params: Any, obs_shape) -> _LayerSizes:
        budget = network_budget(method, network, params, obs_shape)
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
        outside = {
            net: sum(int(v[index]) for v in metrics[net]["outside"].values())
            for net in ("online", "target")
        }
        row = {
            "step": steps,
            "eval_return": float(metrics["eval_return"][index]),
            "train_return": float(metrics["train_return"][index]),
            "train_episodes": int(metrics["train_episodes"][index]),
            "loss": float(metrics["loss"][index]),
            "parameters": weights + other,
            "sparsity": 1.0 - weights / sum(dense_weights.values()),
            "weights_outside_mask": outside["online"],
            "target_weights_outside_mask": outside["target"],
            "wall_s": round(now - t0, 3),
        }
        row.update({f"nonzeros/{k}": nonzeros[k] for k in nonzeros})
        row.update({f"density/{k}": nonzeros[k] / dense_weights[k] for k in nonzeros})
        rows.append(row)
    return rows


def _config(resolved: ResolvedSpec, point: dict[str, Any]) -> dict[str, Any]:
    spec = resolved.spec
    method = dataclasses.asdict(resolved.phases[-1])
    if point["sparsity"] is not None:
        method["sparsity"] = point["sparsity"]
    agent = dataclasses.asdict(resolved.agent.config)
    agent.update({k: point[k] for k in spec.sweep})
    return {
        "agent": spec.agent,
        "env": spec.env,
        "method": spec.method,
        "seed": point["seed"],
        "sparsity": point["sparsity"],
        "steps": spec.steps,
        "eval_interval": resolved.eval_interval,
        "eval_episodes": spec.eval_episodes,
        "total_updates": resolved.total_updates,
        "preset": spec.preset or resolved.env.spec.family,
        "agent_config": agent,
        "method_config": method,
        "phases": [m.name for m in resolved.phases],
        "versions": versions(),
    }


def _write_all(out: Path, resolved, grid, history, *, sizes: _LayerSizes, t0: float) -> None:
    """Rewrite each run's config and metrics after every chunk (atomic, so always valid)."""
    for index, point in enumerate(grid):
        directory = out / run_id(resolved.spec, point)
        if len(history) == 1:
            write_json(directory / "config.json", _config(resolved, point))
        write_csv(directory / "metrics.csv", _metric_rows(history, index, sizes, t0))


def _results(resolved, grid, history, t0, network, params, sizes) -> list[RunResult]:
    wall = time.perf_counter() - t0
    results = []
    for index, point in enumerate(grid):
        method = resolved.method
        if point["sparsity"] is not None:
            method = dataclasses.replace(method, sparsity=point["sparsity"])
        budget = network_budget(method, network, params, resolved.env.obs_shape)
        rows = _metric_rows(history, index, sizes, t0)
        returns = [row["eval_return"] for row in rows]
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
            "finite_loss": bool(all(math.isfinite(row["loss"]) for row in rows)),
        }
        results.append(RunResult(run_id(resolved.spec, point), point, rows, summary))
    return results
