"""Uniform replay: a ring buffer sampled uniformly among indices with a complete n-step window."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from sparserl.replay.storage import allocate, capacity_of, write
from sparserl.types import PyTree


@struct.dataclass
class ReplayState:
    """Uniform replay buffer: transition storage, next slot to write and number of filled slots."""

    storage: PyTree
    position: jax.Array
    size: jax.Array


def init_replay(example_transition: PyTree, capacity: int) -> ReplayState:
    """An empty buffer of `capacity` transitions shaped like `example_transition`."""
    zero = jnp.zeros((), jnp.int32)
    return ReplayState(allocate(example_transition, capacity), zero, zero)


def add(state: ReplayState, transition: PyTree) -> ReplayState:
    """Append one transition, overwriting the oldest one once the buffer is full."""
    storage, position, size = write(state.storage, state.position, state.size, transition)
    return ReplayState(storage, position, size)


def sample_indices(state: ReplayState, key: jax.Array, batch_size: int, n_step: int) -> jax.Array:
    """`batch_size` slots drawn uniformly (with replacement) among the valid ones.

    A slot is valid when its window of `n_step` transitions lies inside the written data
    without crossing the write position: the oldest `size - n_step + 1` slots in time order,
    i.e. all but the newest `n_step - 1`. With `size < n_step` nothing is valid and the
    indices are meaningless: sample only once `size` reaches the minimum replay size.
    """
    capacity = capacity_of(state.storage)
    oldest = (state.position - state.size) % capacity
    valid = jnp.maximum(state.size - n_step + 1, 1)
    offsets = jax.random.randint(key, (batch_size,), 0, valid)
    return (oldest + offsets) % capacity
