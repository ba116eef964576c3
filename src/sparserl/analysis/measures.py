"""Pure measures of a network and its training signal, usable on any Flax model.

Each takes arrays or pytrees and returns arrays, so it runs inside a jitted training program
and `jax.vmap`s over a stack of runs (a vmapped call equals the per-run calls). Masks are
sparserl's: a pytree shaped like the params, a boolean array per sparse kernel, `None` at
leaves kept dense.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from sparserl.sparsity.masks import layer_name
from sparserl.types import Mask, PyTree

DORMANT_TAU = 0.1  # Sokar et al. 2023 for CNNs; best on Impala in Obando-Ceron 2024 App. G.5
SRANK_DELTA = 0.01  # Kumar et al. 2021a, Sec. 3 (Definition of srank)
SCORE_EPS = 1e-9  # keeps a dead layer's scores finite: Dopamine labs/redo weight_recyclers.py
STD_EPS = 1e-8  # keeps |mean| / std finite for a parameter with equal gradients everywhere


def _is_none(x: object) -> bool:
    return x is None


def _neuron_scores(activation: jax.Array) -> jax.Array:
    """Sokar et al. 2023 Def. 3.1: each neuron's mean |activation| over the batch (and space)
    over the layer's mean of those; the last axis holds the neurons."""
    mean_abs = jnp.mean(jnp.abs(activation), axis=tuple(range(activation.ndim - 1)))
    return mean_abs / (jnp.mean(mean_abs) + SCORE_EPS)


def dormant_fraction(
    activations: Sequence[jax.Array], tau: float = DORMANT_TAU
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """(fraction of τ-dormant neurons over all layers' neurons, per-layer fractions).

    Sokar et al. 2023 Def. 3.1 (Dopamine labs/redo): a neuron is τ-dormant when its score is
    <= τ. `activations` are per-layer `[batch, units]` or `[batch, h, w, channels]` arrays (a
    channel is one neuron), e.g. `hidden_activations(...)`.
    """
    if not activations:
        raise ValueError("dormant_fraction needs the activations of at least one layer, got none")
    dormant = [_neuron_scores(a) <= tau for a in activations]
    per_layer = tuple(jnp.mean(d, dtype=jnp.float32) for d in dormant)
    total = sum(jnp.sum(d, dtype=jnp.float32) for d in dormant) / sum(d.size for d in dormant)
    return total, per_layer


def srank(features: jax.Array, delta: float = SRANK_DELTA) -> jax.Array:
    """Effective rank of a feature matrix (Kumar et al. 2021, Sec. 3), int32.

    The smallest k with (σ1 + ... + σk) / (σ1 + ... + σn) >= 1 - δ over the singular values of
    `features` `[batch, d]`; leading axes beyond the batch (IQN's fractions) are rows too. An
    all-zero matrix has srank 0.
    """
    matrix = features.reshape(-1, features.shape[-1])
    # The tall orientation has the same singular values; XLA's CPU SVD of a wide 128 x 512
    # matrix takes ~1 s, of its transpose ~15 ms.
    matrix = matrix.T if matrix.shape[0] < matrix.shape[1] else matrix
    singular = jnp.linalg.svd(matrix, compute_uv=False)
    total = jnp.sum(singular)
    below = jnp.cumsum(singular) < (1.0 - delta) * total
    return jnp.where(total > 0, jnp.sum(below, dtype=jnp.int32) + 1, 0).astype(jnp.int32)


def per_example_gradients(
    loss_fn: Callable[[PyTree, PyTree], jax.Array], params: PyTree, batch: PyTree
) -> PyTree:
    """Gradients of `loss_fn(params, batch_of_one)` for each example of `batch`: a pytree like
    `params` with a leading `[N]` axis (N = the batch's leading axis)."""

    def one(example: PyTree) -> PyTree:
        return jax.grad(loss_fn)(params, jax.tree.map(lambda x: x[None], example))

    return jax.vmap(one)(batch)


def _masked_leaves(tree: PyTree, masks: Mask | None) -> list[tuple[jax.Array, jax.Array | None]]:
    """(leaf, its mask or None) pairs; with no masks every leaf is wholly active."""
    if masks is None:
        return [(leaf, None) for leaf in jax.tree.leaves(tree)]
    mask_leaves, structure = jax.tree.flatten(masks, is_leaf=_is_none)
    return list(zip(structure.flatten_up_to(tree), mask_leaves, strict=True))


def gradient_snr(per_example_grads: PyTree, masks: Mask | None = None) -> jax.Array:
    """Gradient signal-to-noise ratio (Graesser et al. 2022, "Signal-to-noise ratio").

    For each parameter |mean_i g_i| / (std_i g_i + 1e-8) over the N per-example gradients
    (population std), averaged over the parameters; only active ones when `masks` are given.
    """
    total = count = 0.0
    for grads, mask in _masked_leaves(per_example_grads, masks):
        snr = jnp.abs(jnp.mean(grads, axis=0)) / (jnp.std(grads, axis=0) + STD_EPS)
        active = jnp.ones(snr.shape, bool) if mask is None else mask
        total += jnp.sum(jnp.where(active, snr, 0.0))
        count += jnp.sum(active, dtype=jnp.float32)
    return total / count


def gradient_cosine_matrix(per_example_grads: PyTree, masks: Mask | None = None) -> jax.Array:
    """The N x N cosine similarities of the flattened per-example gradients (Lyle et al. 2023;
    Obando-Ceron et al. 2024, Fig. 14); masked-out entries are left out. A zero gradient has
    cosine 0 with every gradient."""
    gram = 0.0
    for grads, mask in _masked_leaves(per_example_grads, masks):
        flat = grads if mask is None else jnp.where(mask, grads, 0.0)
        flat = flat.reshape(flat.shape[0], -1)
        gram += flat @ flat.T
    norms = jnp.sqrt(jnp.diagonal(gram))
    safe = jnp.where(norms > 0, norms, 1.0)
    return gram / safe[:, None] / safe[None, :]


def q_statistics(
    q_estimates: jax.Array, q_targets: jax.Array | None = None
) -> dict[str, jax.Array]:
    """Q-value statistics of Obando-Ceron et al. 2024 (Sec. 5, Fig. 11) on `[N, ...]` estimates.

    "q_mean" and "q_variance" (population) over every estimate; "q_norm", the mean over the N
    examples of the L2 norm of each example's Q values (|Q| for a scalar Q); "q_target_variance"
    of the targets when given.
    """
    per_example = q_estimates.reshape(q_estimates.shape[0], -1)
    stats = {
        "q_mean": jnp.mean(q_estimates),
        "q_variance": jnp.var(q_estimates),
        "q_norm": jnp.mean(jnp.linalg.norm(per_example, axis=1)),
    }
    if q_targets is not None:
        stats["q_target_variance"] = jnp.var(q_targets)
    return stats


def parameter_norm(params: PyTree, masks: Mask | None = None) -> jax.Array:
    """Global L2 norm of every parameter (Obando-Ceron et al. 2024, Fig. 11); masked-out
    weights are left out."""
    squares = 0.0
    for leaf, mask in _masked_leaves(params, masks):
        squares += jnp.sum(jnp.square(leaf if mask is None else jnp.where(mask, leaf, 0.0)))
    return jnp.sqrt(squares)


def mask_turnover(previous_masks: Mask, masks: Mask) -> dict[str, jax.Array]:
    """Layer name -> fraction of the layer's active connections that were inactive in
    `previous_masks` (0 for a layer kept dense): how much a dynamic method (SET, RigL)
    rewired since the previous measurement. Layer names as `sparserl.sparsity` names them."""
    flat, structure = jax.tree_util.tree_flatten_with_path(masks, is_leaf=_is_none)
    before = structure.flatten_up_to(previous_masks)
    turnover = {}
    for (path, mask), old in zip(flat, before, strict=True):
        name = layer_name(path)
        if name is None:
            continue
        if mask is None:
            turnover[name] = jnp.float32(0.0)
            continue
        grown = jnp.sum(mask & ~old, dtype=jnp.float32)
        turnover[name] = grown / jnp.maximum(jnp.sum(mask, dtype=jnp.float32), 1.0)
    return turnover
