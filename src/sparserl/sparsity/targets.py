"""Target-network policies: how a target follows a sparse online network.

- `copy_mask`: the target keeps exactly the online mask (Polyak average, then masked).
- `prune_magnitude`: DS-TD3 (Sokar et al. 2022, Sec. 3): after each Polyak update, prune the
  target back to the online nonzero count per layer, keeping the largest magnitudes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparserl.sparsity.masks import apply_masks, top_k_mask
from sparserl.types import Mask, PyTree

TARGET_POLICIES = ("copy_mask", "prune_magnitude")


def polyak(online: PyTree, target: PyTree, tau) -> PyTree:
    """tau * online + (1 - tau) * target; tau = 1 is a hard copy."""
    return jax.tree.map(lambda o, t: tau * o + (1.0 - tau) * t, online, target)


def prune_to_online_count(target: PyTree, masks: Mask) -> PyTree:
    """Keep, per sparse layer, the `sum(mask)` largest-magnitude target weights; zero the rest."""
    return jax.tree.map(
        lambda m, t: t if m is None else jnp.where(top_k_mask(jnp.abs(t), jnp.sum(m)), t, 0.0),
        masks,
        target,
        is_leaf=lambda x: x is None,
    )


def sync_target(policy: str, online: PyTree, target: PyTree, masks: Mask, tau) -> PyTree:
    """The new target network under `policy` (one of TARGET_POLICIES)."""
    mixed = polyak(online, target, tau)
    if policy == "copy_mask":
        return apply_masks(mixed, masks)
    return prune_to_online_count(mixed, masks)
