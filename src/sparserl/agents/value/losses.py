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


def quantile_huber_loss(
    quantiles: jax.Array, targets: jax.Array, taus: jax.Array, kappa: float = 1.0
) -> jax.Array:
    """Quantile Huber loss of each example (IQN's loss, Dabney et al. 2018, eq. 3).

    `quantiles` [B, N] are the online values at fractions `taus` [B, N], `targets` [B, N']
    the target samples. For every pair, δ = target_j - quantile_i weighs the Huber loss
    L_κ(δ) / κ by |τ_i - 1{δ < 0}|; the loss sums over i and averages over j, as Dopamine's.
    """
    errors = targets[:, :, None] - quantiles[:, None, :]  # [B, N', N]
    weights = jnp.abs(taus[:, None, :] - (errors < 0).astype(jnp.float32))
    return jnp.sum(jnp.mean(weights * huber(errors, kappa) / kappa, axis=1), axis=-1)


def quantile_td_targets(
    returns: jax.Array, discounts: jax.Array, next_quantiles: jax.Array, next_actions: jax.Array
) -> jax.Array:
    """r + discount · Z_target(s', a*, τ'_j) for each target sample j: [B, N']."""
    chosen_next = jnp.take_along_axis(next_quantiles, next_actions[:, None, None], axis=-1)
    return returns[:, None] + discounts[:, None] * chosen_next[..., 0]


def scaled_log_softmax(q_values: jax.Array, temperature: float) -> jax.Array:
    """τ log π(·|s) for the softmax policy π = softmax(q / τ), computed stably."""
    return temperature * jax.nn.log_softmax(q_values / temperature, axis=-1)


def munchausen_quantile_targets(
    returns: jax.Array,
    discounts: jax.Array,
    next_quantiles: jax.Array,
    next_q: jax.Array,
    q: jax.Array,
    actions: jax.Array,
    *,
    temperature: float,
    alpha: float,
    log_policy_clip: float,
) -> jax.Array:
    """M-IQN targets [B, N'] (Vieillard et al. 2020: M-DQN's target on IQN's quantiles, as in
    their munchausen_rl m_iqn.py):

        r + α clip(τ log π(a|s), l0, 0) + discount Σ_a' π(a'|s') (Z_j(s', a') - τ log π(a'|s'))

    with π = softmax(q / τ) of the target network's Q-values `q` at s and `next_q` at s'
    [B, A], `next_quantiles` [B, N', A] and l0 = `log_policy_clip`. The bootstrap is the soft
    (log-sum-exp) value: with Z_j = q it equals τ log Σ_a' exp(q(s', a') / τ).
    """
    log_policy = chosen(scaled_log_softmax(q, temperature), actions)
    bonus = alpha * jnp.clip(log_policy, log_policy_clip, 0.0)
    next_log_policy = scaled_log_softmax(next_q, temperature)[:, None, :]
    next_policy = jax.nn.softmax(next_q / temperature, axis=-1)[:, None, :]
    soft_values = jnp.sum(next_policy * (next_quantiles - next_log_policy), axis=-1)
    return (returns + bonus)[:, None] + discounts[:, None] * soft_values
