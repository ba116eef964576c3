"""n-step targets from stored one-step transitions, cut at the first episode end."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparserl.replay.storage import capacity_of
from sparserl.types import PyTree


def nstep_batch(
    storage: PyTree, indices: jax.Array, n_step: int, gamma: float | jax.Array
) -> dict[str, PyTree]:
    """The n-step transition starting at each index, for n-step Q-learning targets.

    For a start index i, let m <= n_step be the number of steps up to and including the
    first `episode_end` in i..i+n_step-1 (m = n_step if there is none). Returns `obs` and
    `action` of step i, `return` = sum_{k<m} gamma^k r_{i+k}, `next_obs` of step i+m-1 and
    `discount` = gamma^m, or 0 when step i+m-1 is `terminal`: a time-limit truncation still
    bootstraps from its `next_obs`, a true termination does not. A `terminal` step also ends
    the window. Indices wrap modulo the capacity; `gamma` may be traced (e.g. vmapped).
    With n_step = 1 this is the one-step transition with discount gamma * (1 - terminal).
    """
    returns, discounts, last = nstep_returns(storage, indices, n_step, gamma)
    return {
        "obs": _gather(storage["obs"], indices),
        "action": _gather(storage["action"], indices),
        "return": returns,
        "next_obs": _gather(storage["next_obs"], last),
        "discount": discounts,
    }


def nstep_returns(
    storage: PyTree, indices: jax.Array, n_step: int, gamma: float | jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(return, discount, last) of the n-step windows starting at `indices` (see
    `nstep_batch`); `storage` needs `reward`, `terminal` and `episode_end`."""
    capacity = capacity_of(storage)
    steps = jnp.arange(n_step)
    window = (indices[:, None] + steps) % capacity
    rewards = storage["reward"][window].astype(jnp.float32)
    ends = storage["episode_end"][window].astype(bool) | storage["terminal"][window].astype(bool)
    # Step k of the window counts while no episode ended at steps 0..k-1.
    alive = (jnp.cumsum(ends, axis=1) - ends) == 0
    m = alive.sum(axis=1)
    last = (indices + m - 1) % capacity
    gamma = jnp.asarray(gamma, jnp.float32)
    returns = jnp.sum(jnp.where(alive, gamma**steps * rewards, 0.0), axis=1)
    discounts = jnp.where(storage["terminal"][last].astype(bool), 0.0, gamma**m)
    return returns, discounts, last


def _gather(tree: PyTree, indices: jax.Array) -> PyTree:
    return jax.tree.map(lambda x: x[indices], tree)
