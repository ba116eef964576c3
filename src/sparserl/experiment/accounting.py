"""Parameter and FLOP counts of an agent's network under a sparse method, before training.

Training FLOPs per example of one update follow RigL's rule (Evci et al. 2020, App. H): a
pass the loss is differentiated through costs 3x its forward FLOPs (forward plus a backward
of 2x), a pass without gradient (target network, greedy action selection) 1x. Which passes
an update runs is the agent's to say (`ValueAgent.update_passes`): DQN and Rainbow count
their differentiated pass alone (their target pass on s' left out, as RigL and Graesser et
al. 2022 count), IQN all of its passes, its target side (N' + K fractions) being as large as
its online one (N). A lottery rewind counts both of its runs: the Prune run that finds its
masks and the rewind (`phases_budget`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from sparserl.agents.value.value_agent import NetworkPass
from sparserl.experiment.plan import ONLINE
from sparserl.sparsity import SparseMethod, budget_table, kernel_shapes
from sparserl.sparsity.flops import dense_counts, inference_flops
from sparserl.sparsity.masks import kernel_name
from sparserl.sparsity.summary import spreads_unevenly


def kernel_positions(network: Any, params: Any, inputs: tuple[jax.Array, ...]) -> dict[str, int]:
    """Layer name -> output positions per example: H·W for a conv, 1 for a dense layer on
    `[B, F]`, N for one on `[B, N, F]` (IQN's layers after the τ embedding).

    A kernel is applied once per output position, so its FLOPs scale with them; the shapes
    come from `jax.eval_shape`, nothing is computed.
    """

    def run(p):
        return network.apply(p, *inputs, capture_intermediates=True, mutable=["intermediates"])[1]

    captured = jax.eval_shape(run, params)["intermediates"]
    positions = {}
    for name in kernel_shapes(params):
        node = captured
        for part in name.split("/"):
            node = node[part]
        positions[name] = int(np.prod(node["__call__"][0].shape[1:-1]))
    return positions


def dense_leaf_count(params: Any) -> int:
    """Number of parameters that are never masked (biases, norms)."""
    total = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if kernel_name(path, leaf) is None:
            total += int(np.size(leaf))
    return total


def update_training_flops(
    method: SparseMethod, network: Any, params: Any, passes: Sequence[NetworkPass]
) -> tuple[float, float]:
    """Training FLOPs per example of one update made of `passes`, sparse and dense.

    A differentiated pass costs the method's training FLOPs at its positions (3x forward,
    RigL App. H), any other pass a third of that: its forward FLOPs under the method's mask
    schedule (for RigL this also counts a third of its occasional dense gradient, a slight
    overestimate).
    """
    shapes = kernel_shapes(params)
    sparse = dense = 0.0
    for step in passes:
        positions = kernel_positions(network, params, step.inputs)
        training = method.training_flops(shapes, positions)
        forward = inference_flops(dense_counts(shapes), positions)
        if step.differentiated:
            sparse, dense = sparse + training, dense + 3.0 * forward
        else:
            sparse, dense = sparse + training / 3.0, dense + forward
    return sparse, dense


def network_budget(
    method: SparseMethod,
    network: Any,
    params: Any,
    inputs: tuple[jax.Array, ...],
    passes: Sequence[NetworkPass] | None = None,
) -> dict[str, Any]:
    """`budget_table` for a real network: per-layer counts, totals, inference FLOPs on
    `inputs` (acting), training FLOPs of one update made of `passes` (default: one
    differentiated pass on `inputs`)."""
    table = budget_table(
        method,
        kernel_shapes(params),
        positions=kernel_positions(network, params, inputs),
        other_params=dense_leaf_count(params),
    )
    if passes is not None:
        training, dense = update_training_flops(method, network, params, passes)
        table.update(training_flops=training, dense_training_flops=dense)
    return table


def phases_budget(tables: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The budget of a run made of phases of equal length (a lottery rewind: the Prune run
    that finds the masks, then the rewind): the last phase's network and counts, and the
    training FLOPs of every phase summed, per update of one phase (the dense baseline trains
    once: its FLOPs stay those of one run)."""
    table = dict(tables[-1])
    if len(tables) > 1:
        table["phase_training_flops"] = [t["training_flops"] for t in tables]
        table["training_flops"] = sum(table["phase_training_flops"])
    return table


SUMMED = ("weights", "dense_weights", "parameters", "training_flops", "dense_training_flops")


def merged_budget(budgets: dict[str, dict[str, Any]], acting: str = "actor") -> dict[str, Any]:
    """One table for several networks: layers named `network/layer`, counts and training FLOPs
    summed, inference FLOPs those of the `acting` network (the only one run to act)."""
    table: dict[str, Any] = {
        "method": "+".join(sorted({b["method"] for b in budgets.values()})),
        "layers": [
            {**layer, "layer": f"{name}/{layer['layer']}"}
            for name, budget in budgets.items()
            for layer in budget["layers"]
        ],
        **{key: sum(b[key] for b in budgets.values()) for key in SUMMED},
        "inference_flops": budgets[acting]["inference_flops"],
        "dense_inference_flops": budgets[acting]["dense_inference_flops"],
        "networks": {
            name: {k: v for k, v in b.items() if k != "layers"} for name, b in budgets.items()
        },
    }
    table["sparsity"] = 1.0 - table["weights"] / table["dense_weights"]
    return table


def agent_budget(plan: Any, level: float | None, distribution: str | None = None) -> dict[str, Any]:
    """The budget table of a plan's network(s) at sparsity `level` (per-network tables under
    "networks" for several networks); `distribution` replaces the layer distribution of the
    methods that spread their sparsity unevenly. `resolve` stores it in every run's plan;
    call this only for another level or distribution."""

    def redistributed(method: SparseMethod) -> SparseMethod:
        if distribution is None or not spreads_unevenly(method):
            return method
        return dataclasses.replace(method, distribution=distribution)

    phases = plan.phases_at(level)
    if plan.networks == (ONLINE,):
        inputs = plan.example_inputs[ONLINE]
        passes = plan.agent.update_passes(plan.env.obs_shape)
        tables = [
            network_budget(
                redistributed(phase[ONLINE]),
                plan.modules[ONLINE],
                plan.param_shapes[ONLINE],
                inputs,
                passes,
            )
            for phase in phases
        ]
        return phases_budget(tables)
    budgets = {
        name: network_budget(
            redistributed(method),
            plan.modules[name],
            plan.param_shapes[name],
            plan.example_inputs[name],
        )
        for name, method in phases[-1].items()
    }
    return merged_budget(budgets)
