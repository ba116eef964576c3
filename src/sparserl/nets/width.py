"""Parameter-matched dense baselines: the width whose network has a given parameter count.

Graesser et al. 2022 compare sparse networks with "smaller dense networks by scaling down
layer widths to approximately match the parameter counts of the sparse networks".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax


def parameter_count(params: Any) -> int:
    """Total number of scalars in a param tree (arrays or `jax.ShapeDtypeStruct`s)."""
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))


def _boundary(is_above: Callable[[float], bool], lo: float, hi: float) -> tuple[float, float]:
    """Adjacent floats (a, b) in [lo, hi] with not is_above(a) and is_above(b), by bisection.

    `is_above` must be monotone, False at `lo` and True at `hi`.
    """
    while (mid := lo + (hi - lo) / 2) not in (lo, hi):
        lo, hi = (lo, mid) if is_above(mid) else (mid, hi)
    return lo, hi


def width_for_parameter_count(
    count_at_width: Callable[[float], int],
    target: int,
    *,
    low: float = 1e-3,
    high: float = 64.0,
) -> float:
    """The width in [low, high] whose count is closest to `target` (ties: the smaller count).

    `count_at_width` must be non-decreasing; it is a step function since units are rounded to
    integers. Bisection finds the steps just below and above `target`; the closer one wins and
    the middle of its width interval is returned, away from the rounding edges.
    """
    count = functools.cache(count_at_width)
    if not count(low) <= target <= count(high):
        raise ValueError(
            f"target {target} is outside the counts {count(low)} (width {low}) to "
            f"{count(high)} (width {high}); widen low/high"
        )
    chosen = count(low)
    if chosen < target:
        below, above = _boundary(lambda w: count(w) >= target, low, high)
        chosen = count(below) if target - count(below) <= count(above) - target else count(above)
    start = low if count(low) == chosen else _boundary(lambda w: count(w) >= chosen, low, high)[1]
    end = high if count(high) == chosen else _boundary(lambda w: count(w) > chosen, low, high)[0]
    return start + (end - start) / 2


def matched_width(
    network_factory: Callable[[float], nn.Module], example_inputs: tuple[Any, ...], target: int
) -> float:
    """The width at which `network_factory(width)` has about `target` parameters;
    `example_inputs` are the network's call arguments (an observation batch, IQN's τ too).

    Counts with `jax.eval_shape` of `init`, so no weights are ever materialised.
    """
    key = jax.random.key(0)

    def count_at_width(width: float) -> int:
        return parameter_count(jax.eval_shape(network_factory(width).init, key, *example_inputs))

    return width_for_parameter_count(count_at_width, target)
