"""Parameter and FLOP accounting per layer (dense and conv kernels).

FLOPs count a multiply-add as 2 and cover the kernels (biases and activations are a rounding
error next to them). A conv kernel is applied at every output position, so its layer FLOPs are
2 * nonzeros * positions; pass `positions` (output height * width) for conv layers, 1 for dense.
Training FLOPs per example follow the RigL paper (Evci et al. 2020, App. H): forward f plus a
backward pass of 2f.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def layer_flops(nonzeros: int, positions: int = 1) -> int:
    """Inference FLOPs of one layer for one example."""
    return 2 * int(nonzeros) * int(positions)


def inference_flops(nonzeros: Mapping[str, int], positions: Mapping[str, int] | None = None) -> int:
    """Inference FLOPs of a network for one example, from its per-layer nonzero counts."""
    positions = positions or {}
    return sum(layer_flops(n, positions.get(name, 1)) for name, n in nonzeros.items())


def dense_counts(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, int]:
    """Per-layer weight counts of the dense network."""
    return {name: int(np.prod(shape)) for name, shape in shapes.items()}


def rigl_training_flops(dense_flops: float, sparse_flops: float, update_interval: int) -> float:
    """RigL: (3 f_S dT + 2 f_S + f_D) / (dT + 1): a dense gradient every dT steps (Evci et al.)."""
    dt = update_interval
    return (3 * sparse_flops * dt + 2 * sparse_flops + dense_flops) / (dt + 1)
