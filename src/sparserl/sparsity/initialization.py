"""Sparsity-aware initialisation (Evci et al. 2022, 'Gradient flow in sparse neural networks').

Standard inits scale a weight's std by 1/sqrt(fan_in). Keeping a fraction d of a layer's
connections divides its fan-in by d, so its kept weights are rescaled by 1/sqrt(d) to keep the
variance of the layer's outputs what the dense init intended.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparserl.types import Mask, PyTree


def sparsity_aware_scale(params: PyTree, masks: Mask) -> PyTree:
    """Multiply each sparse kernel by sqrt(size / nonzeros), i.e. 1/sqrt(fan-in density)."""

    def scale(mask, p):
        if mask is None:
            return p
        kept = jnp.maximum(jnp.sum(mask), 1).astype(p.dtype)
        return p * jnp.sqrt(jnp.asarray(mask.size, p.dtype) / kept)

    return jax.tree.map(scale, masks, params, is_leaf=lambda x: x is None)
