"""Per-layer budget tables for a method and a network: what `sparserl inspect` prints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparserl.sparsity import flops as flop_count
from sparserl.sparsity.methods import SparseMethod


def budget_table(
    method: SparseMethod,
    shapes: Mapping[str, tuple[int, ...]],
    positions: Mapping[str, int] | None = None,
    other_params: int = 0,
) -> dict[str, Any]:
    """Per-layer shape, density, nonzeros and FLOPs, plus totals, before training anything.

    `other_params` counts the leaves that are never masked (biases, norms) for the totals.
    """
    positions = positions or {}
    counts = method.layer_counts(shapes)
    dense = flop_count.dense_counts(shapes)
    layers = [
        {
            "layer": name,
            "shape": list(shapes[name]),
            "size": dense[name],
            "nonzeros": counts[name],
            "density": counts[name] / dense[name],
            "inference_flops": flop_count.layer_flops(counts[name], positions.get(name, 1)),
        }
        for name in shapes
    ]
    weights = sum(counts.values())
    dense_weights = sum(dense.values())
    dense_flops = flop_count.inference_flops(dense, positions)
    return {
        "method": method.name,
        "layers": layers,
        "weights": weights,
        "dense_weights": dense_weights,
        "sparsity": 1.0 - weights / dense_weights if dense_weights else 0.0,
        "parameters": weights + other_params,
        "inference_flops": flop_count.inference_flops(counts, positions),
        "dense_inference_flops": dense_flops,
        "training_flops": method.training_flops(shapes, positions),
        "dense_training_flops": 3.0 * dense_flops,
    }


def spreads_unevenly(method: SparseMethod) -> bool:
    """Whether `method` spreads a sparsity level over the layers other than uniformly (ERK, or
    ER solved for a level), so that its FLOPs are worth comparing with uniform's."""
    distribution = getattr(method, "distribution", "uniform")
    return distribution != "uniform" and getattr(method, "er_lambda", None) is None


def uniform_comparison(table: Mapping[str, Any], uniform: Mapping[str, Any]) -> dict[str, Any]:
    """FLOPs of `table` next to those of `uniform`, the same sparsity spread uniformly: on CNNs
    ERK roughly doubles the FLOPs at a given sparsity (Graesser et al. 2022)."""
    return {
        "uniform_inference_flops": uniform["inference_flops"],
        "uniform_training_flops": uniform["training_flops"],
        "inference_flops_vs_uniform": table["inference_flops"] / uniform["inference_flops"],
        "training_flops_vs_uniform": table["training_flops"] / uniform["training_flops"],
    }


def mlp_shapes(sizes: list[int]) -> dict[str, tuple[int, int]]:
    """Kernel shapes of an MLP with layer sizes [in, h1, ..., out], named like Flax (Dense_i)."""
    return {
        f"Dense_{i}": (int(a), int(b))
        for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False))
    }
