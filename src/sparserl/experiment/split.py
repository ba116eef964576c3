"""Actor:critic parameter split (Graesser et al. 2022, "Actor or critic?"): one weight budget
for both networks, a fraction of it for the actor, turned into each network's sparsity."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sparserl.experiment.errors import TrainConfigError
from sparserl.sparsity import SparseMethod
from sparserl.types import Shapes


def _sizes(method: SparseMethod, shapes: Shapes) -> tuple[int, int]:
    """(all kernel weights, weights in layers the method keeps dense)."""
    total = sum(int(np.prod(s)) for s in shapes.values())
    fixed = sum(int(np.prod(shapes[n])) for n in shapes if n not in method.sparse_layers(shapes))
    return total, fixed


def dense_actor_fraction(shapes: Mapping[str, Shapes]) -> float:
    """The actor's share of the kernel weights of the dense networks (about 1/3 for SAC)."""
    sizes = {n: sum(int(np.prod(s)) for s in sh.values()) for n, sh in shapes.items()}
    return sizes["actor"] / sum(sizes.values())


def split_sparsities(
    methods: Mapping[str, SparseMethod],
    shapes: Mapping[str, Shapes],
    sparsity: float,
    actor_fraction: float,
) -> dict[str, float]:
    """Per-network sparsity (over its sparse layers) giving the actor `actor_fraction` of a
    budget of `(1 - sparsity) x` the dense kernel weights of both networks, the critic the rest.

    Raises with the range of fractions that fit when one network would need more weights
    than it has, or fewer than its dense layers hold.
    """
    sizes = {n: _sizes(methods[n], shapes[n]) for n in ("actor", "critic")}
    budget = (1.0 - sparsity) * sum(total for total, _ in sizes.values())
    shares = {"actor": actor_fraction, "critic": 1.0 - actor_fraction}
    result = {}
    for name, (total, fixed) in sizes.items():
        kept = shares[name] * budget
        if not fixed < kept <= total:
            (a_total, a_fixed), (c_total, c_fixed) = sizes["actor"], sizes["critic"]
            low = max(a_fixed / budget, 1.0 - c_total / budget, 0.0)
            high = min(a_total / budget, 1.0 - c_fixed / budget, 1.0)
            fits = f"({low:.4f}, {high:.4f})" if low < high else "none"
            raise TrainConfigError(
                f"actor_fraction {actor_fraction} at sparsity {sparsity} gives the {name} "
                f"{kept:,.0f} weights; it has {total:,} ({fixed:,} in dense layers). "
                f"Fractions that fit this budget: {fits}"
            )
        result[name] = 1.0 - (kept - fixed) / (total - fixed)
    return result
