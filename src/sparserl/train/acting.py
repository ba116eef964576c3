"""The action rules of each agent family, once: the environment action of an agent's action,
the greedy (deterministic) policy and the evaluation policy. The training loops evaluate
through them and a run rebuilt from its directory (`rundir.load_policy`, `rundir.evaluate`)
acts through them, so that both give the same actions.

`params` is {network: params}, `obs` a batch [B, ...]; `obs_stats` is PPO's observation
normaliser (`RunningStats`), None for other agents. The rule is chosen by the agent's declared
`family` (value, off_policy, on_policy).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from sparserl.agents import epsilon_greedy
from sparserl.experiment.plan import ONLINE
from sparserl.types import PyTree

VALUE, OFF_POLICY, ON_POLICY = "value", "off_policy", "on_policy"  # agents' declared families
GREEDY_KEY_SEED = 0  # see greedy_key


def to_action_box(action: Any, low: Any, high: Any) -> Any:
    """Actions in [-1, 1] (the off-policy agents' range) -> the environment's box [low, high];
    numpy or JAX arrays alike."""
    return low + 0.5 * (action + 1.0) * (high - low)


def env_actions(agent: Any, env: Any, action: jax.Array) -> jax.Array:
    """The agent's actions as the environment takes them: off-policy agents' [-1, 1] mapped
    onto the box, PPO's continuous actions clipped to it, discrete actions as they are."""
    if agent.family == VALUE or getattr(agent, "discrete", False):
        return action
    low, high = jnp.asarray(env.action_low), jnp.asarray(env.action_high)
    if agent.family == OFF_POLICY:
        return to_action_box(action, low, high)
    return jnp.clip(action, low, high)


def greedy_key() -> jax.Array:
    """The key of the value agents' greedy policy: only agents that sample their Q-values
    (IQN's quantile fractions) use it."""
    return jax.random.key(GREEDY_KEY_SEED)


def _q_values(agent: Any, env: Any, params: dict[str, PyTree], obs: jax.Array, key: jax.Array):
    return agent.q_values(agent.network(env).apply, params[ONLINE], obs, key)


def greedy_actions(
    agent: Any, env: Any, params: dict[str, PyTree], obs_stats: Any, obs: jax.Array
) -> jax.Array:
    """The deterministic policy's environment actions: argmax Q (value agents, with
    `greedy_key`), the actor's deterministic action in the box (SAC, TD3), PPO's argmax logits
    or mean on normalised observations."""
    if agent.family == VALUE:
        return jnp.argmax(_q_values(agent, env, params, obs, greedy_key()), axis=-1)
    if agent.family == ON_POLICY and agent.config.normalize_observations:
        obs = obs_stats.normalize(obs, agent.config.normalize_clip)
    return env_actions(agent, env, agent.greedy(params, obs))


def evaluation_actions(
    agent: Any, env: Any, params: dict[str, PyTree], obs_stats: Any, obs: jax.Array, key
) -> jax.Array:
    """The evaluation policy's environment actions: ε-greedy at `epsilon_eval` for value agents
    (one key per observation, the last for the Q-values), else `greedy_actions`."""
    if agent.family != VALUE:
        return greedy_actions(agent, env, params, obs_stats, obs)
    keys = jax.random.split(key, obs.shape[0] + 1)
    q = _q_values(agent, env, params, obs, keys[-1])
    return jax.vmap(epsilon_greedy, in_axes=(0, 0, None))(keys[:-1], q, agent.config.epsilon_eval)
