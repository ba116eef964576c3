"""Greedy evaluation episodes inside the jitted program (ε_eval, K parallel episodes)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from sparserl.agents import epsilon_greedy
from sparserl.envs import JaxEnv


def evaluate(
    env: JaxEnv,
    q_values: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    episodes: int,
    epsilon: float,
) -> jax.Array:
    """Mean undiscounted return of `episodes` episodes run side by side until each first ends.

    `q_values(obs_batch) -> [K, A]`. Episodes stop at the environment's time limit at the
    latest, so the loop is bounded by `env.max_episode_steps`.
    """
    reset_key, key = jax.random.split(key)
    obs, state = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
    returns = jnp.zeros(episodes, jnp.float32)
    active = jnp.ones(episodes, bool)

    def body(carry):
        key, obs, state, returns, active = carry
        key, act_key, step_key = jax.random.split(key, 3)
        q = q_values(obs)
        actions = jax.vmap(epsilon_greedy, in_axes=(0, 0, None))(
            jax.random.split(act_key, episodes), q, epsilon
        )
        step = jax.vmap(env.step)(jax.random.split(step_key, episodes), state, actions)
        returns = returns + jnp.where(active, step.reward, 0.0)
        active = active & ~(step.terminated | step.truncated)
        return key, step.obs, step.state, returns, active

    carry = jax.lax.while_loop(lambda c: jnp.any(c[4]), body, (key, obs, state, returns, active))
    return jnp.mean(carry[3])
