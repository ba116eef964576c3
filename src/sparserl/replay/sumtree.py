"""A sum-tree in one flat array: set leaf priorities and sample leaves in proportion to them.

Layout (as in Dopamine's prioritized replay): with P the capacity rounded up to a power of
two, the array has 2P entries; node j has children 2j and 2j+1, the root (total mass) is
entry 1, entry 0 is unused and leaf (slot) s is entry P + s. Parents are always recomputed
from their children rather than updated by deltas, so float32 round-off never accumulates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def init_tree(capacity: int) -> jax.Array:
    """An all-zero tree with at least `capacity` leaves."""
    leaves = 1 << (capacity - 1).bit_length()
    return jnp.zeros(2 * leaves, jnp.float32)


def _leaves_and_depth(tree: jax.Array) -> tuple[int, int]:
    leaves = tree.shape[0] // 2
    return leaves, leaves.bit_length() - 1


def leaf_values(tree: jax.Array, slots: jax.Array) -> jax.Array:
    """The priorities stored at `slots`."""
    return tree[tree.shape[0] // 2 + slots]


def total(tree: jax.Array) -> jax.Array:
    """The sum of all leaf priorities."""
    return tree[1]


def set_leaves(tree: jax.Array, slots: jax.Array, values: jax.Array) -> jax.Array:
    """Set the leaves `slots` to `values` and recompute every ancestor of them.

    A slot listed twice takes its last value in the batch (earlier duplicates are dropped),
    so the result is deterministic. Ancestors are refreshed one level at a time, for the
    whole batch at once; entries written twice in a level receive identical sums.
    """
    leaves, depth = _leaves_and_depth(tree)
    order = jnp.arange(slots.shape[0])
    repeated_later = ((slots[:, None] == slots[None, :]) & (order[None, :] > order[:, None])).any(1)
    nodes = leaves + slots
    tree = tree.at[jnp.where(repeated_later, tree.shape[0], nodes)].set(values, mode="drop")

    def refresh_parents(_, carry):
        tree, nodes = carry
        nodes = nodes // 2
        return tree.at[nodes].set(tree[2 * nodes] + tree[2 * nodes + 1]), nodes

    tree, _ = lax.fori_loop(0, depth, refresh_parents, (tree, nodes))
    return tree


def sample_leaves(tree: jax.Array, key: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Stratified proportional sampling: (slots, probabilities = priority / total).

    The mass [0, total) is cut into `batch_size` equal segments with one uniform draw in each
    (Schaul et al. 2016, Sec. 3.3), and every draw descends from the root, going right when it
    exceeds the left child's mass. The descent never enters a zero-mass child, so even with
    float32 round-off only leaves of non-zero priority are returned (given total > 0).
    """
    _, depth = _leaves_and_depth(tree)
    mass = total(tree)
    targets = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) * (
        mass / batch_size
    )

    def descend(_, carry):
        nodes, targets = carry
        left, right = tree[2 * nodes], tree[2 * nodes + 1]
        go_right = (targets >= left) & (right > 0)
        return jnp.where(go_right, 2 * nodes + 1, 2 * nodes), jnp.where(
            go_right, targets - left, targets
        )

    start = jnp.ones(batch_size, jnp.int32)
    nodes, _ = lax.fori_loop(0, depth, descend, (start, targets))
    return nodes - tree.shape[0] // 2, tree[nodes] / mass
