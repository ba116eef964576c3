"""Schedules of the sparse methods, as jnp functions of the (possibly traced) step."""

from __future__ import annotations

import jax.numpy as jnp


def pruning_progress(step, start: int, end: int):
    """Zhu & Gupta (2017) cubic progress 1 - (1 - p)^3, p = (t - t_start)/(t_end - t_start).

    p is clipped to [0, 1], so the pruned fraction s_t = s_F * progress is 0 before t_start
    and s_F after t_end.
    """
    p = jnp.clip((jnp.asarray(step, jnp.float32) - start) / max(end - start, 1), 0.0, 1.0)
    return 1.0 - (1.0 - p) ** 3


def cubic_sparsity(step, final_sparsity, start: int, end: int):
    """Target sparsity s_t = s_F (1 - (1 - (t - t_start)/(t_end - t_start))^3) (Zhu & Gupta)."""
    return final_sparsity * pruning_progress(step, start, end)


def cosine_drop_fraction(step, initial, end: int):
    """Drop fraction alpha/2 (1 + cos(pi t / t_end)), 0 from t_end on (Dettmers & Zettlemoyer)."""
    t = jnp.minimum(jnp.asarray(step, jnp.float32), end)
    return 0.5 * initial * (1.0 + jnp.cos(jnp.pi * t / max(end, 1)))
