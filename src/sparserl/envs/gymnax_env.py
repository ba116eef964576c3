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

if TYPE_CHECKING:
    from sparserl.envs.registry import EnvSpec


def bound_array(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An action bound (scalar or array) as a read-only float32 array of `shape`."""
    array = np.array(np.broadcast_to(np.asarray(value, np.float32), shape))
    array.setflags(write=False)
    return array


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
class JaxEnv:
    """A gymnax environment with its parameters and the facts agents need about it."""

    spec: EnvSpec
    env: Any
    params: Any
    obs_shape: tuple[int, ...]
    num_actions: int | None  # None for continuous actions
    action_shape: tuple[int, ...]
    max_episode_steps: int
    # float32 arrays of `action_shape` bounding continuous actions; None for discrete ones.
    # Left out of ==/hash (they follow from the spec), so the env stays hashable.
    action_low: np.ndarray | None = dataclasses.field(default=None, compare=False)
    action_high: np.ndarray | None = dataclasses.field(default=None, compare=False)

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
            action_low=None if discrete else bound_array(space.low, action_shape),
            action_high=None if discrete else bound_array(space.high, action_shape),
        )

    @property
    def env_id(self) -> str:
        return self.spec.env_id

    @property
    def discrete(self) -> bool:
        return self.num_actions is not None

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
