"""Masks: pytrees shaped like the params, a boolean array per prunable kernel, `None` elsewhere.

Layer names are the '/'-joined module path of a kernel, without the `params` collection and
the trailing `kernel` key (e.g. `Dense_0`, `encoder/Conv_1`): the names used by
`layer_densities`, `dense_layers` overrides and every per-layer report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.types import Mask, PyTree


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def leaf_path(path: tuple) -> tuple[str, ...]:
    """The string keys of a `jax.tree_util` key path."""
    return tuple(_key_name(k) for k in path)


def layer_name(path: tuple) -> str | None:
    """The layer name of a kernel leaf, or None for a leaf that is not a kernel."""
    names = leaf_path(path)
    if not names or names[-1] != "kernel":
        return None
    if names[0] == "params":
        names = names[1:]
    return "/".join(names[:-1])


def kernel_shapes(params: PyTree) -> dict[str, tuple[int, ...]]:
    """Layer name -> kernel shape for every kernel (ndim >= 2), in module creation order.

    Flax builds param dicts in creation order, so the last entry is the output layer; the
    walk keeps that order (a `jax.tree` flatten would sort the names).
    """
    shapes: dict[str, tuple[int, ...]] = {}

    def walk(node: Any, names: tuple[str, ...]) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                walk(child, (*names, str(key)))
            return
        if names and names[-1] == "kernel" and np.ndim(node) >= 2:
            inner = names[1:] if names[0] == "params" else names
            shapes["/".join(inner[:-1])] = tuple(np.shape(node))

    walk(params, ())
    return shapes


def kernel_name(path: tuple, leaf: Any) -> str | None:
    """The layer name if this leaf is a prunable kernel (named `kernel`, ndim >= 2), else None."""
    return layer_name(path) if np.ndim(leaf) >= 2 else None


def map_kernels(
    fn: Callable[[str, Any], Any], params: PyTree, *, dense_value: Any = None
) -> PyTree:
    """A tree like `params`: `fn(layer_name, leaf)` at kernels, `dense_value` elsewhere."""

    def visit(path, leaf):
        name = kernel_name(path, leaf)
        return dense_value if name is None else fn(name, leaf)

    return jax.tree_util.tree_map_with_path(visit, params)


def _is_none(x: Any) -> bool:
    return x is None


def apply_masks(params: PyTree, masks: Mask) -> PyTree:
    """Zero every weight whose mask entry is False; leaves with a `None` mask pass through."""
    return jax.tree.map(
        lambda m, p: p if m is None else jnp.where(m, p, jnp.zeros_like(p)),
        masks,
        params,
        is_leaf=_is_none,
    )


def named_masks(masks: Mask) -> dict[str, jax.Array]:
    """Layer name -> boolean mask, for the sparse layers of a mask tree."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(masks, is_leaf=_is_none)[0]:
        if leaf is not None:
            out[layer_name(path)] = leaf
    return out


def mask_counts(masks: Mask) -> dict[str, int]:
    """Layer name -> number of active (True) entries, for the sparse layers of a mask tree."""
    return {name: int(np.sum(np.asarray(m))) for name, m in named_masks(masks).items()}


def nonzero_counts(params: PyTree) -> dict[str, int]:
    """Layer name -> number of nonzero weights, for every kernel of a param tree."""
    counts: dict[str, int] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        name = kernel_name(path, leaf)
        if name is not None:
            counts[name] = int(np.count_nonzero(np.asarray(leaf)))
    return counts


def stored_parameter_count(params: PyTree) -> int:
    """Nonzero kernel weights plus every other parameter (biases, norms): the stored size."""
    total = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        is_kernel = kernel_name(path, leaf) is not None
        total += int(np.count_nonzero(np.asarray(leaf))) if is_kernel else int(np.size(leaf))
    return total


def _ordered_bits(x: jax.Array) -> jax.Array:
    """uint32 keys with the same order as the float32 values of `x`."""
    bits = jax.lax.bitcast_convert_type(x.astype(jnp.float32), jnp.int32)
    bits = jnp.where(bits < 0, bits ^ jnp.int32(0x7FFFFFFF), bits)
    return jax.lax.bitcast_convert_type(bits, jnp.uint32) ^ jnp.uint32(0x80000000)


def _kth_largest_key(keys: jax.Array, k: jax.Array) -> jax.Array:
    """The largest key T with at least k keys >= T, by bisection over the 32 key bits."""

    def halve(_, bounds):
        lo, hi = bounds
        gap = hi - lo
        mid = lo + (gap >> 1) + (gap & 1)
        enough = jnp.sum(keys >= mid) >= k
        return jnp.where(enough, mid, lo), jnp.where(enough, hi, mid - 1)

    lo, _ = jax.lax.fori_loop(0, 33, halve, (jnp.uint32(0), jnp.uint32(0xFFFFFFFF)))
    return lo


def _select_top_k(flat: jax.Array, k: jax.Array) -> jax.Array:
    keys = _ordered_bits(flat)
    threshold = _kth_largest_key(keys, k)
    above = keys > threshold
    ties = keys == threshold
    room = k - jnp.sum(above)
    return above, ties, room


def top_k_mask(scores: jax.Array, k: jax.Array, key: jax.Array | None = None) -> jax.Array:
    """Boolean array, True at exactly the `k` largest scores.

    Finds the k-th largest value by bisection on its bits (O(32 n), no sort), so `k` may be a
    traced value (vmapped sparsity levels) and a topology update stays cheap. Ties at the
    threshold go to the earliest positions, or to random ones when `key` is given.
    """
    flat = scores.reshape(-1)
    above, ties, room = _select_top_k(flat, k)
    if key is None:
        chosen_ties = ties & (jnp.cumsum(ties) <= room)
    else:
        noise = jnp.where(ties, jax.random.uniform(key, flat.shape), -1.0)
        tie_above, tie_ties, tie_room = _select_top_k(noise, room)
        chosen_ties = tie_above | (tie_ties & (jnp.cumsum(tie_ties) <= tie_room))
    return (above | chosen_ties).reshape(scores.shape)


def random_mask(key: jax.Array, shape: tuple[int, ...], k: jax.Array) -> jax.Array:
    """A boolean array of `shape` with exactly `k` True entries at uniformly random positions."""
    return top_k_mask(jax.random.uniform(key, shape), k)


def mask_violations(tree: PyTree, masks: Mask) -> int:
    """Number of nonzero entries of `tree` where the mask is False (0 when a tree obeys it)."""
    total = 0
    for mask, leaf in zip(
        jax.tree.leaves(masks, is_leaf=_is_none), jax.tree.leaves(tree), strict=True
    ):
        if mask is not None:
            total += int(np.count_nonzero(np.asarray(leaf)[~np.asarray(mask)]))
    return total
