"""Per-layer densities and exact connection counts from a global target (host-side, float64).

- `uniform`: every sparse layer has sparsity `sparsity`.
- `erk` (Evci et al. 2020, RigL): density proportional to sum(shape) / prod(shape), conv
  kernel dims included; layers that would exceed density 1 are made dense and the remaining
  budget is re-solved among the others.
- `er` (Mocanu et al. 2018; Sokar et al. 2022): density lambda * (n_in + n_out) / (n_in * n_out)
  with the kernel seen as an n_in x n_out matrix (n_in = prod(shape[:-1])). Either an explicit
  lambda per layer (`er_lambda` alone, DS-TD3 style: lambda * (n_in + n_out) connections,
  rounded half up), or the one scale that meets `sparsity`, solved like ERK; with both, the
  lambdas are the layers' relative weights and are scaled together to meet `sparsity`.

`sparsity` is the fraction of zeros over the layers that are not listed in `dense_layers`:
layers the user keeps dense are outside the budget, so `uniform` stays truly uniform.
From a sparsity, counts follow RigL's code (google-research/rigl, `sparse_utils`; jaxpruner's
`sparsity_distributions` likewise): each layer's budget is `size - floor(sparsity * size)`
kept weights, the scale is solved on the sum of those budgets, and a layer of sparsity s_l
keeps `size - floor(s_l * size)` weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from sparserl.sparsity.errors import SparsityConfigError
from sparserl.types import Shapes
from sparserl.validation import Range, check_number, positive

DISTRIBUTIONS = ("uniform", "erk", "er")
SPARSITY_RANGE = Range(0, 1, high_open=True)  # a fraction of zeros; 1 would remove every weight


def round_half_up(x: float) -> int:
    """Nearest integer, halves up: exact connection counts never lose a weight to truncation."""
    return int(math.floor(x + 0.5))


def zeros_at(size: int, sparsity: float) -> int:
    """Zeros in a layer of `size` weights at `sparsity`: floor(sparsity * size), RigL's rule."""
    return int(math.floor(sparsity * size))


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape))


def _fan_in_out(shape: tuple[int, ...]) -> tuple[int, int]:
    return int(np.prod(shape[:-1])), int(shape[-1])


def _erk_score(shape: tuple[int, ...]) -> float:
    return float(np.sum(shape)) / float(np.prod(shape))


def _er_score(shape: tuple[int, ...]) -> float:
    n_in, n_out = _fan_in_out(shape)
    return (n_in + n_out) / (n_in * n_out)


def check_sparsity(sparsity: object, *, name: str = "sparsity") -> float:
    """The sparsity as a float, or an error naming the bad value and the allowed range [0, 1)."""
    return float(check_number(name, sparsity, SPARSITY_RANGE, SparsityConfigError))


def _check_layers(names: Iterable[str], shapes: Shapes, what: str) -> None:
    unknown = [n for n in names if n not in shapes]
    if unknown:
        raise SparsityConfigError(
            f"{what} names unknown layer(s) {unknown}; the layers are {list(shapes)}"
        )


def _solve_scaled(
    shapes: Shapes, sparse: list[str], sparsity: float, scores: Mapping[str, float]
) -> dict[str, float]:
    """Layer sparsities 1 - eps * score: eps gives the free layers the kept weights of
    `sparsity` over all sparse layers; a layer over density 1 is made dense, and eps re-solved
    (RigL's ERK solve)."""
    saturated: set[str] = set()
    while True:
        free = [n for n in sparse if n not in saturated]
        if not free:
            return dict.fromkeys(sparse, 0.0)
        budget = sum(_size(shapes[n]) - zeros_at(_size(shapes[n]), sparsity) for n in free)
        budget -= sum(zeros_at(_size(shapes[n]), sparsity) for n in saturated)
        eps = budget / sum(scores[n] * _size(shapes[n]) for n in free)
        top = max(scores[n] for n in free)
        if eps * top <= 1.0:
            return {n: 0.0 if n in saturated else 1.0 - eps * scores[n] for n in sparse}
        saturated.update(n for n in free if scores[n] == top)


def _check_lambdas(shapes: Shapes, sparse: list[str], er_lambda: Mapping[str, float]) -> None:
    _check_layers(er_lambda, shapes, "er_lambda")
    missing = [n for n in sparse if n not in er_lambda]
    if missing:
        raise SparsityConfigError(
            f"er_lambda has no lambda for layer(s) {missing}; give one or list them in dense_layers"
        )
    for name in sparse:
        check_number(f"er_lambda[{name!r}]", er_lambda[name], positive, SparsityConfigError)


def _er_connections(
    shapes: Shapes, sparse: list[str], er_lambda: Mapping[str, float]
) -> dict[str, float]:
    """lambda * (n_in + n_out) per sparse layer (Sokar et al. 2022, Eq. 2), each checked to
    fit its layer."""
    connections = {}
    for name in sparse:
        lam = er_lambda[name]
        n_in, n_out = _fan_in_out(shapes[name])
        most = n_in * n_out / (n_in + n_out)
        if lam > most:
            raise SparsityConfigError(
                f"er_lambda[{name!r}] = {lam!r} asks for {lam!r} * ({n_in} + {n_out}) connections "
                f"but layer {name!r} {tuple(shapes[name])} has {n_in * n_out}: lambda must be "
                f"in (0, {most:.4g}]"
            )
        connections[name] = lam * (n_in + n_out)
    return connections


def _plan(
    shapes: Shapes,
    sparsity: float | None,
    distribution: str,
    dense_layers: Iterable[str],
    er_lambda: Mapping[str, float] | None,
) -> tuple[str, dict[str, float]]:
    """("connections", explicit ER counts) or ("sparsities", layer sparsities), sparse layers
    only, after checking every argument."""
    if distribution not in DISTRIBUTIONS:
        raise SparsityConfigError(
            f"unknown distribution {distribution!r}; choose one of {list(DISTRIBUTIONS)}"
        )
    dense_layers = list(dense_layers)
    _check_layers(dense_layers, shapes, "dense_layers")
    sparse = [n for n in shapes if n not in dense_layers]
    if er_lambda is not None:
        if distribution != "er":
            raise SparsityConfigError(
                f"er_lambda is only used with distribution='er', got distribution={distribution!r}"
            )
        _check_lambdas(shapes, sparse, er_lambda)
        if sparsity is None:
            return "connections", _er_connections(shapes, sparse, er_lambda)
    if sparsity is None:
        raise SparsityConfigError(
            f"distribution {distribution!r} needs a sparsity in [0, 1)"
            + (" (or er_lambda per layer)" if distribution == "er" else "")
        )
    sparsity = check_sparsity(sparsity)
    if distribution == "uniform":
        return "sparsities", dict.fromkeys(sparse, sparsity)
    if distribution == "erk":
        scores = {n: _erk_score(shapes[n]) for n in sparse}
    else:
        weights = er_lambda or {}
        scores = {n: weights.get(n, 1.0) * _er_score(shapes[n]) for n in sparse}
    return "sparsities", _solve_scaled(shapes, sparse, sparsity, scores)


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
    kind, plan = _plan(shapes, sparsity, distribution, dense_layers, er_lambda)
    if kind == "connections":
        per_layer = {n: c / _size(shapes[n]) for n, c in plan.items()}
    else:
        per_layer = {n: 1.0 - s for n, s in plan.items()}
    return {n: per_layer.get(n, 1.0) for n in shapes}


def layer_nonzeros(
    shapes: Shapes,
    sparsity: float | None = None,
    distribution: str = "erk",
    *,
    dense_layers: Iterable[str] = (),
    er_lambda: Mapping[str, float] | None = None,
) -> dict[str, int]:
    """Layer name -> exact number of kept weights: `size - floor(s_l * size)` at a layer
    sparsity s_l (RigL's rule), `lambda * (n_in + n_out)` rounded half up for explicit ER."""
    kind, plan = _plan(shapes, sparsity, distribution, dense_layers, er_lambda)
    counts = {n: _size(shape) for n, shape in shapes.items()}
    for name, value in plan.items():
        if kind == "connections":
            counts[name] = min(counts[name], round_half_up(value))
        else:
            counts[name] -= zeros_at(counts[name], value)
    return counts
