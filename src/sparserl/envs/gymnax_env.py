"""A gymnax environment behind a small interface that keeps termination and truncation apart.

DQN-style targets must not bootstrap through a true terminal state but must through a time
limit, so each step reports both flags and the real next observation before the auto-reset.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import gymnax
import jax
import numpy as np
from flax import struct

from sparserl.envs.facts import EnvFacts, action_bounds

if TYPE_CHECKING:
    from sparserl.envs.registry import EnvSpec


@struct.dataclass
class Step:
    """One environment step: `obs` is already reset when the episode ended."""

    obs: jax.Array
    state: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array  # the observation the action led to, before any reset


@dataclasses.dataclass(frozen=True)
class JaxEnv(EnvFacts):
    """A gymnax environment with its parameters and the facts agents need about it."""

    env: Any = dataclasses.field(kw_only=True)
    params: Any = dataclasses.field(kw_only=True)

    @classmethod
    def from_gymnax(cls, spec: EnvSpec) -> JaxEnv:
        env, params = gymnax.make(spec.backend_id)
        space = env.action_space(params)
        discrete = hasattr(space, "n")
        obs_shape = tuple(env.observation_space(params).shape)
        action_shape = () if discrete else tuple(space.shape)
        return cls(
            spec=spec,
            env=env,
            params=params,
            obs_shape=obs_shape,
            num_actions=int(space.n) if discrete else None,
            action_shape=action_shape,
            max_episode_steps=int(params.max_steps_in_episode),
            **action_bounds(space, discrete, action_shape),
        )

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        """First observation and state of a new episode."""
        return self.env.reset(key, self.params)

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        """Step, resetting automatically when the episode terminated or was truncated."""
        obs, state, reward, terminated, truncated, info = self.env.step(
            key, state, action, self.params
        )
        return Step(
            obs=obs,
            state=state,
            reward=reward.astype(np.float32),
            terminated=terminated,
            truncated=truncated,
            final_obs=info["final_observation"],
        )
