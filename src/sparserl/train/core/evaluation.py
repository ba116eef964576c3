"""Evaluation episodes inside the jitted program: K episodes side by side on a JAX env."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from sparserl.envs import JaxEnv


def evaluate_episodes(
    env: JaxEnv,
    act: Callable[[jax.Array, jax.Array], jax.Array],
    key: jax.Array,
    episodes: int,
) -> jax.Array:
    """Mean undiscounted return of `episodes` episodes run side by side until each first ends.

    `act(obs_batch, key) -> actions [K, ...]` (ε-greedy, or a deterministic policy). Episodes
    stop at the environment's time limit at the latest, so the loop is bounded by
    `env.max_episode_steps`.
    """
    reset_key, key = jax.random.split(key)
    obs, state = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
    returns = jnp.zeros(episodes, jnp.float32)
    active = jnp.ones(episodes, bool)

    def body(carry):
        key, obs, state, returns, active = carry
        key, act_key, step_key = jax.random.split(key, 3)
        actions = act(obs, act_key)
        step = jax.vmap(env.step)(jax.random.split(step_key, episodes), state, actions)
        returns = returns + jnp.where(active, step.reward, 0.0)
        active = active & ~(step.terminated | step.truncated)
        return key, step.obs, step.state, returns, active

    carry = jax.lax.while_loop(lambda c: jnp.any(c[4]), body, (key, obs, state, returns, active))
    return jnp.mean(carry[3])
