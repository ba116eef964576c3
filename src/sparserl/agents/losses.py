"""The maths of value-based targets and losses, as small pure functions tested on toy cases."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def huber(x: jax.Array, delta: float = 1.0) -> jax.Array:
    """Huber loss of a TD error (Mnih et al. 2015 clip the error gradient to [-1, 1])."""
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    return 0.5 * quadratic**2 + delta * (abs_x - quadratic)


def greedy_next_actions(next_q_online: jax.Array, next_q_target: jax.Array, double_q: bool):
    """a* for the bootstrap: argmax of the online net (double Q, van Hasselt et al. 2016)
    or of the target net (DQN)."""
    return jnp.argmax(next_q_online if double_q else next_q_target, axis=-1)


def td_targets(
    returns: jax.Array, discounts: jax.Array, next_q_target: jax.Array, next_actions: jax.Array
) -> jax.Array:
    """r + discount · Q_target(s', a*); `discounts` is 0 after a terminal state."""
    bootstrap = jnp.take_along_axis(next_q_target, next_actions[:, None], axis=-1)[:, 0]
    return returns + discounts * bootstrap


def chosen(values: jax.Array, actions: jax.Array) -> jax.Array:
    """values[b, actions[b], ...]: the entry of each example's action."""
    index = actions.reshape(actions.shape + (1,) * (values.ndim - 1))
    return jnp.take_along_axis(values, index, axis=1)[:, 0]


def categorical_projection(
    support: jax.Array, probabilities: jax.Array, returns: jax.Array, discounts: jax.Array
) -> jax.Array:
    """Project r + discount·z onto the fixed support (C51, Bellemare et al. 2017, Alg. 1).

    Each shifted atom splits its mass between its two neighbours on the support in proportion
    to closeness, i.e. weight max(0, 1 - |Tz_j - z_i| / Δz) on atom i; atoms outside
    [v_min, v_max] are clipped to the ends first.
    """
    delta = support[1] - support[0]
    shifted = returns[:, None] + discounts[:, None] * support[None, :]
    shifted = jnp.clip(shifted, support[0], support[-1])
    closeness = 1.0 - jnp.abs(shifted[:, None, :] - support[None, :, None]) / delta
    return jnp.sum(jnp.clip(closeness, 0.0, 1.0) * probabilities[:, None, :], axis=-1)
