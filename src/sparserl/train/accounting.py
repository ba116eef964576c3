"""Parameter and FLOP counts of an agent's network under a sparse method, before training."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from sparserl.sparsity import SparseMethod, budget_table, kernel_shapes
from sparserl.sparsity.masks import kernel_name


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


def network_budget(
    method: SparseMethod, network: Any, params: Any, inputs: tuple[jax.Array, ...]
) -> dict[str, Any]:
    """`budget_table` for a real network: per-layer counts, totals, inference/training FLOPs."""
    return budget_table(
        method,
        kernel_shapes(params),
        positions=kernel_positions(network, params, inputs),
        other_params=dense_leaf_count(params),
    )


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


def agent_budget(resolved: Any, level: float | None) -> dict[str, Any]:
    """The budget table of a resolved training spec's network(s) at sparsity `level`
    (per-network tables under "networks" for actor-critic agents)."""
    key = jax.random.key(0)
    env, agent = resolved.env, resolved.agent
    if resolved.networks is None:
        method = resolved.method
        if level is not None:
            method = dataclasses.replace(method, sparsity=level)
        network = agent.network(env)
        inputs = agent.example_inputs(env.obs_shape)
        return network_budget(method, network, jax.eval_shape(network.init, key, *inputs), inputs)
    inputs = agent.example_inputs(env.obs_shape)
    budgets = {}
    for name, method in resolved.methods_at(level).items():
        module = agent.networks[name]
        params = jax.eval_shape(module.init, key, *inputs[name])
        budgets[name] = network_budget(method, module, params, inputs[name])
    return merged_budget(budgets)
