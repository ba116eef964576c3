"""Proportional prioritized replay (Schaul et al. 2016) in Dopamine's compact Rainbow form.

n-step validity is carried by the priorities themselves, so sampling needs no rejection
step: `add` writes the new slot with priority 0 and raises the slot written n_step - 1 adds
earlier, whose n-step window has just become complete, to the running maximum priority. The
newest n_step - 1 slots (incomplete windows, or windows that would run into the oldest
data) therefore have priority 0 and are never drawn; every other filled slot has a positive
priority. Overwriting a slot also resets its priority, so this holds after wrap-around.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from sparserl.replay import sumtree
from sparserl.replay.storage import allocate, capacity_of, write
from sparserl.types import PyTree

# Dopamine's PrioritizedReplayBuffer starts its max recorded priority at 1.0.
INITIAL_MAX_PRIORITY = 1.0
# Dopamine's Rainbow weights losses by 1/sqrt(p) normalised by the max: beta = 0.5.
DEFAULT_BETA = 0.5


@struct.dataclass
class PrioritizedState:
    """Prioritized buffer: storage, ring position and fill, sum-tree and max priority so far."""

    storage: PyTree
    position: jax.Array
    size: jax.Array
    tree: jax.Array
    max_priority: jax.Array


def init_prioritized(example_transition: PyTree, capacity: int) -> PrioritizedState:
    """An empty prioritized buffer of `capacity` transitions shaped like `example_transition`."""
    zero = jnp.zeros((), jnp.int32)
    return PrioritizedState(
        storage=allocate(example_transition, capacity),
        position=zero,
        size=zero,
        tree=sumtree.init_tree(capacity),
        max_priority=jnp.asarray(INITIAL_MAX_PRIORITY, jnp.float32),
    )


def add(state: PrioritizedState, transition: PyTree, n_step: int) -> PrioritizedState:
    """Append one transition at priority 0 and raise the slot whose n-step window it completes.

    That slot, written n_step - 1 adds earlier, gets `max_priority` (see the module docstring);
    `n_step` must be a static int in [1, capacity].
    """
    capacity = capacity_of(state.storage)
    if not 1 <= n_step <= capacity:
        raise ValueError(f"n_step must be in [1, capacity={capacity}], got {n_step}")
    storage, position, size = write(state.storage, state.position, state.size, transition)
    completed = (state.position - (n_step - 1)) % capacity
    slots = jnp.stack([state.position, completed])
    # With n_step = 1 both slots coincide and the later value (max_priority) wins.
    values = jnp.stack([0.0, jnp.where(size >= n_step, state.max_priority, 0.0)])
    tree = sumtree.set_leaves(state.tree, slots, values)
    return state.replace(storage=storage, position=position, size=size, tree=tree)


def sample_indices(
    state: PrioritizedState, key: jax.Array, batch_size: int
) -> tuple[jax.Array, jax.Array]:
    """(indices, probabilities): a stratified draw in proportion to the priorities.

    Only valid slots (complete n-step windows) can be drawn; the result is meaningless
    while nothing is valid, so sample only once the minimum replay size is reached.
    """
    return sumtree.sample_leaves(state.tree, key, batch_size)


def importance_weights(probabilities: jax.Array, beta: float = DEFAULT_BETA) -> jax.Array:
    """Importance-sampling weights (1 / p)^beta divided by their maximum over the batch."""
    return (jnp.min(probabilities) / probabilities) ** beta


def update_priorities(
    state: PrioritizedState, indices: jax.Array, priorities: jax.Array
) -> PrioritizedState:
    """Set the priorities of sampled slots and raise `max_priority` to the largest of them.

    `priorities` are final, already exponentiated by the caller: Dopamine's Rainbow passes
    sqrt(loss + 1e-10), i.e. alpha = 0.5, keeping them positive. An index listed twice takes
    its last value in the batch. Slots whose priority is 0 (incomplete n-step windows, e.g.
    overwritten since they were sampled) keep 0 and are left out of the maximum.
    """
    priorities = jnp.asarray(priorities, jnp.float32)
    valid = sumtree.leaf_values(state.tree, indices) > 0
    priorities = jnp.where(valid, priorities, 0.0)
    return state.replace(
        tree=sumtree.set_leaves(state.tree, indices, priorities),
        max_priority=jnp.maximum(state.max_priority, priorities.max()),
    )
