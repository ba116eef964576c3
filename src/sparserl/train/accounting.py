"""Parameter and FLOP counts of an agent's network under a sparse method, before training."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.sparsity import SparseMethod, budget_table, kernel_shapes
from sparserl.sparsity.masks import kernel_name


def kernel_positions(network: Any, params: Any, obs_shape: tuple[int, ...]) -> dict[str, int]:
    """Layer name -> output positions per example (H·W for a conv, 1 for a dense layer).

    A conv kernel is applied once per output position, so its FLOPs scale with them; the
    shapes come from `jax.eval_shape`, nothing is computed.
    """
    obs = jnp.zeros((1, *obs_shape), jnp.float32)

    def run(p):
        return network.apply(p, obs, capture_intermediates=True, mutable=["intermediates"])[1]

    captured = jax.eval_shape(run, params)["intermediates"]
    positions = {}
    for name, shape in kernel_shapes(params).items():
        node = captured
        for part in name.split("/"):
            node = node[part]
        out_shape = node["__call__"][0].shape
        positions[name] = int(np.prod(out_shape[1:-1])) if len(shape) > 2 else 1
    return positions


def dense_leaf_count(params: Any) -> int:
    """Number of parameters that are never masked (biases, norms)."""
    total = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if kernel_name(path, leaf) is None:
            total += int(np.size(leaf))
    return total


def network_budget(
    method: SparseMethod, network: Any, params: Any, obs_shape: tuple[int, ...]
) -> dict[str, Any]:
    """`budget_table` for a real network: per-layer counts, totals, inference/training FLOPs."""
    return budget_table(
        method,
        kernel_shapes(params),
        positions=kernel_positions(network, params, obs_shape),
        other_params=dense_leaf_count(params),
    )
