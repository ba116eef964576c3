"""Transition storage: a pytree with a leading capacity axis, written as a ring buffer."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from sparserl.types import PyTree


def allocate(example_transition: PyTree, capacity: int) -> PyTree:
    """Zeros shaped like `example_transition` with a leading `capacity` axis (dtypes kept)."""
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")

    def zeros(x: Any) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.zeros((capacity, *x.shape), x.dtype)

    return jax.tree.map(zeros, example_transition)


def capacity_of(storage: PyTree) -> int:
    """The static capacity of `storage` (its leading axis), also inside `jit` and `vmap`."""
    return jax.tree.leaves(storage)[0].shape[0]


def write(
    storage: PyTree, position: jax.Array, size: jax.Array, transition: PyTree
) -> tuple[PyTree, jax.Array, jax.Array]:
    """Write `transition` at `position`, overwriting the oldest slot once full.

    Returns the new (storage, position, size); `position` is always the next slot to write.
    """
    capacity = capacity_of(storage)
    storage = jax.tree.map(lambda buf, x: buf.at[position].set(x), storage, transition)
    return storage, (position + 1) % capacity, jnp.minimum(size + 1, capacity)
