"""Per-layer densities and exact connection counts from a global target (host-side, float64).

- `uniform`: every sparse layer has density 1 - sparsity.
- `erk` (Evci et al. 2020, RigL): density proportional to sum(shape) / prod(shape), conv
  kernel dims included; layers that would exceed density 1 are made dense and the remaining
  budget is re-solved among the others.
- `er` (Mocanu et al. 2018; Sokar et al. 2022): density lambda * (n_in + n_out) / (n_in * n_out)
  with the kernel seen as an n_in x n_out matrix (n_in = prod(shape[:-1])). Either an explicit
  lambda per layer (`er_lambda`, DS-TD3 style, then `sparsity` is not needed) or the single
  scale that meets `sparsity`, solved like ERK.

`sparsity` is the fraction of zeros over the layers that are not listed in `dense_layers`:
layers the user keeps dense are outside the budget, so `uniform` stays truly uniform.
Counts are `round(density * size)` with halves rounded up, never truncated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from sparserl.sparsity.errors import SparsityConfigError

DISTRIBUTIONS = ("uniform", "erk", "er")

Shapes = Mapping[str, tuple[int, ...]]


def round_half_up(x: float) -> int:
    """Nearest integer, halves up: exact connection counts never lose a weight to truncation."""
    return int(math.floor(x + 0.5))


def _fan_in_out(shape: tuple[int, ...]) -> tuple[int, int]:
    return int(np.prod(shape[:-1])), int(shape[-1])


def _erk_score(shape: tuple[int, ...]) -> float:
    return float(np.sum(shape)) / float(np.prod(shape))


def _er_score(shape: tuple[int, ...]) -> float:
    n_in, n_out = _fan_in_out(shape)
    return (n_in + n_out) / (n_in * n_out)


def check_sparsity(sparsity: object, *, name: str = "sparsity") -> float:
    """The sparsity as a float, or an error naming the bad value and the allowed range [0, 1)."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.floating)):
        raise SparsityConfigError(f"{name} must be a number in [0, 1), got {sparsity!r}")
    value = float(sparsity)
    if not 0.0 <= value < 1.0:
        raise SparsityConfigError(f"{name} must be in [0, 1), got {value}")
    return value


def _check_layers(names: Iterable[str], shapes: Shapes, what: str) -> None:
    unknown = [n for n in names if n not in shapes]
    if unknown:
        raise SparsityConfigError(
            f"{what} names unknown layer(s) {unknown}; the layers are {list(shapes)}"
        )


def _solve_scaled(shapes: Shapes, sparse: list[str], sparsity: float, score) -> dict[str, float]:
    """ERK-style solve: density_l = eps * score_l, saturating layers at 1 until feasible."""
    saturated: set[str] = set()
    while True:
        budget = sum((1.0 - sparsity) * np.prod(shapes[n]) for n in sparse)
        budget -= sum(float(np.prod(shapes[n])) for n in saturated)
        free = [n for n in sparse if n not in saturated]
        divisor = sum(score(shapes[n]) * np.prod(shapes[n]) for n in free)
        if not free or divisor <= 0:
            return dict.fromkeys(sparse, 1.0)
        eps = budget / divisor
        top = max(score(shapes[n]) for n in free)
        if eps * top <= 1.0:
            densities = {n: eps * score(shapes[n]) for n in free}
            densities.update(dict.fromkeys(saturated, 1.0))
            return {n: densities[n] for n in sparse}
        saturated.update(n for n in free if score(shapes[n]) == top)


def _er_lambda_densities(shapes: Shapes, sparse: list[str], er_lambda: Mapping[str, float]):
    _check_layers(er_lambda, shapes, "er_lambda")
    missing = [n for n in sparse if n not in er_lambda]
    if missing:
        raise SparsityConfigError(
            f"er_lambda has no lambda for layer(s) {missing}; give one or list them in dense_layers"
        )
    densities = {}
    for name in sparse:
        lam = er_lambda[name]
        n_in, n_out = _fan_in_out(shapes[name])
        most = n_in * n_out / (n_in + n_out)
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 < lam <= most:
            raise SparsityConfigError(
                f"er_lambda[{name!r}] = {lam!r} asks for {lam!r} * ({n_in} + {n_out}) connections "
                f"but layer {name!r} {tuple(shapes[name])} has {n_in * n_out}: lambda must be "
                f"in (0, {most:.4g}]"
            )
        densities[name] = lam * (n_in + n_out) / (n_in * n_out)
    return densities


def layer_densities(
    shapes: Shapes,
    sparsity: float | None = None,
    distribution: str = "erk",
    *,
    dense_layers: Iterable[str] = (),
    er_lambda: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Layer name -> density (fraction of weights kept) for kernels of the given shapes.

    `shapes` maps layer names to kernel shapes in Flax layout ((in, out) or (kh, kw, in, out)).
    """
    if distribution not in DISTRIBUTIONS:
        raise SparsityConfigError(
            f"unknown distribution {distribution!r}; choose one of {list(DISTRIBUTIONS)}"
        )
    dense_layers = list(dense_layers)
    _check_layers(dense_layers, shapes, "dense_layers")
    sparse = [n for n in shapes if n not in dense_layers]
    if er_lambda is not None and distribution != "er":
        raise SparsityConfigError(
            f"er_lambda is only used with distribution='er', got distribution={distribution!r}"
        )
    if distribution == "er" and er_lambda is not None:
        densities = _er_lambda_densities(shapes, sparse, er_lambda)
    else:
        if sparsity is None:
            raise SparsityConfigError(
                f"distribution {distribution!r} needs a sparsity in [0, 1)"
                + (" (or er_lambda per layer)" if distribution == "er" else "")
            )
        sparsity = check_sparsity(sparsity)
        if distribution == "uniform":
            densities = dict.fromkeys(sparse, 1.0 - sparsity)
        else:
            score = _erk_score if distribution == "erk" else _er_score
            densities = _solve_scaled(shapes, sparse, sparsity, score)
    return {n: 1.0 if n in dense_layers else densities[n] for n in shapes}


def layer_nonzeros(
    shapes: Shapes,
    sparsity: float | None = None,
    distribution: str = "erk",
    *,
    dense_layers: Iterable[str] = (),
    er_lambda: Mapping[str, float] | None = None,
) -> dict[str, int]:
    """Layer name -> exact number of kept weights: `round(density * size)`, halves up."""
    densities = layer_densities(
        shapes, sparsity, distribution, dense_layers=dense_layers, er_lambda=er_lambda
    )
    counts = {}
    for name, density in densities.items():
        size = int(np.prod(shapes[name]))
        counts[name] = size if density >= 1.0 else min(size, round_half_up(density * size))
    return counts
