"""Per-run bookkeeping of training episodes: returns of the episodes finished in a chunk, on
the device (JAX environments, inside the scan) or on the host (gymnasium environments)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class EpisodeStats:
    """Returns of the training episodes finished since the last chunk boundary."""

    episode_return: jax.Array
    finished_return_sum: jax.Array
    finished_episodes: jax.Array

    @classmethod
    def zeros(cls, shape: tuple[int, ...] = ()) -> EpisodeStats:
        zero = jnp.zeros(shape, jnp.float32)
        return cls(zero, zero, zero)

    def record(self, reward: jax.Array, ended: jax.Array) -> EpisodeStats:
        total = self.episode_return + reward
        return EpisodeStats(
            episode_return=jnp.where(ended, 0.0, total),
            finished_return_sum=self.finished_return_sum + jnp.where(ended, total, 0.0),
            finished_episodes=self.finished_episodes + ended,
        )

    def chunk_metrics(self) -> dict[str, jax.Array]:
        return {
            "train_return": self.finished_return_sum / jnp.maximum(self.finished_episodes, 1),
            "train_episodes": self.finished_episodes,
        }

    def restart(self) -> EpisodeStats:
        zero = jnp.zeros_like(self.finished_episodes)
        return self.replace(finished_return_sum=zero, finished_episodes=zero)


@struct.dataclass
class JaxEnvCarry:
    """The environment side of a run on a JAX environment."""

    state: Any
    obs: jax.Array
    key: jax.Array
    stats: EpisodeStats


class HostEpisodeStats:
    """`EpisodeStats` in numpy for host environments, over `[runs, envs per run]`: updated
    in place after every host step, summed over each run's environments per chunk."""

    def __init__(self, runs: int, envs: int = 1):
        self.shape = (runs, envs)
        self.episode_return = np.zeros(self.shape)
        self.restart()

    def record(self, reward: np.ndarray, ended: np.ndarray) -> None:
        """One step of every environment (flat `[runs * envs]` arrays, run-major)."""
        reward, ended = reward.reshape(self.shape), ended.reshape(self.shape)
        self.episode_return += reward
        self.finished_sum += np.where(ended, self.episode_return, 0.0)
        self.finished += ended
        self.episode_return[ended] = 0.0

    def chunk_metrics(self) -> dict[str, np.ndarray]:
        finished = self.finished.sum(axis=1)
        return {
            "train_return": self.finished_sum.sum(axis=1) / np.maximum(finished, 1),
            "train_episodes": finished,
        }

    def restart(self) -> None:
        """Forget the finished episodes (at a chunk's start); running returns continue."""
        self.finished_sum = np.zeros(self.shape)
        self.finished = np.zeros(self.shape)
