"""The replay of the value-based program, by what it stores: whole transitions (JAX
environments) or single uint8 frames with stacks rebuilt by index (Atari). Both draw
uniformly or by priority and hand the update the same n-step batch, so the update step is
one piece of code for either."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from sparserl import replay
from sparserl.agents import ValueConfig

Sample = tuple[jax.Array, jax.Array, dict[str, jax.Array]]  # indices, weights, n-step batch


@dataclasses.dataclass(frozen=True)
class _Replay:
    """Sampling and priority updates shared by both storages."""

    config: ValueConfig
    prioritized: bool

    def weights(self, probabilities: jax.Array) -> jax.Array:
        """Importance weights of a prioritized draw (1/sqrt(p) max-normalised, Dopamine's
        Rainbow), ones for a uniform one."""
        if self.prioritized:
            return replay.importance_weights(probabilities, self.config.priority_exponent_beta)
        return jnp.ones_like(probabilities)

    def update_priorities(self, buffer: Any, indices: jax.Array, losses: jax.Array) -> Any:
        """After an update: priority sqrt(loss + 1e-10) (Dopamine's Rainbow, exponent 0.5) for
        prioritized replay; uniform replay is left as it is."""
        if not self.prioritized:
            return buffer
        return self._set_priorities(buffer, indices, jnp.sqrt(losses + 1e-10))

    def _set_priorities(self, buffer: Any, indices: jax.Array, priorities: jax.Array) -> Any:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class TransitionReplay(_Replay):
    """Whole transitions (obs, action, reward, next_obs, flags) per slot."""

    def init(self, obs: jax.Array) -> Any:
        """An empty buffer for observations shaped like `obs`."""
        example = {
            "obs": obs,
            "action": jnp.zeros((), jnp.int32),
            "reward": jnp.zeros((), jnp.float32),
            "next_obs": obs,
            "terminal": jnp.zeros((), bool),
            "episode_end": jnp.zeros((), bool),
        }
        if self.prioritized:
            return replay.init_prioritized(example, self.config.replay_capacity)
        return replay.init_replay(example, self.config.replay_capacity)

    def add(self, buffer: Any, transition: dict[str, jax.Array]) -> Any:
        if self.prioritized:
            return replay.prioritized.add(buffer, transition, self.config.n_step)
        return replay.uniform.add(buffer, transition)

    def sample(
        self, buffer: Any, key: jax.Array, gamma: jax.Array, size: int | None = None
    ) -> Sample:
        """A batch of `size` examples (the agent's batch size by default)."""
        cfg = self.config
        size = cfg.batch_size if size is None else size
        if self.prioritized:
            indices, probabilities = replay.prioritized.sample_indices(buffer, key, size)
            weights = self.weights(probabilities)
        else:
            indices = replay.uniform.sample_indices(buffer, key, size, cfg.n_step)
            weights = jnp.ones(size, jnp.float32)
        return indices, weights, replay.nstep_batch(buffer.storage, indices, cfg.n_step, gamma)

    def _set_priorities(self, buffer: Any, indices: jax.Array, priorities: jax.Array) -> Any:
        return replay.prioritized.update_priorities(buffer, indices, priorities)


@dataclasses.dataclass(frozen=True)
class FrameReplay(_Replay):
    """One uint8 frame per slot (`replay.frames`): a 1M Atari buffer is 7 GB, not 56 GB."""

    def init(self, frame_shape: tuple[int, int]) -> replay.frames.FrameReplayState:
        return replay.frames.init_frame_replay(frame_shape, self.config.replay_capacity)

    def add(
        self,
        buffer: replay.frames.FrameReplayState,
        frame: jax.Array,
        action: jax.Array,
        reward: jax.Array,
        terminal: jax.Array,
        episode_end: jax.Array,
    ) -> replay.frames.FrameReplayState:
        return replay.frames.add(
            buffer, frame, action, reward, terminal, episode_end, self.config.n_step
        )

    def sample(
        self,
        buffer: replay.frames.FrameReplayState,
        key: jax.Array,
        gamma: jax.Array,
        size: int | None = None,
    ) -> Sample:
        """A batch of `size` examples (the agent's batch size by default)."""
        cfg = self.config
        size = cfg.batch_size if size is None else size
        indices, probabilities = replay.frames.sample_indices(buffer, key, size)
        batch = replay.frames.nstep_frame_batch(buffer, indices, cfg.n_step, gamma)
        return indices, self.weights(probabilities), batch

    def _set_priorities(self, buffer: Any, indices: jax.Array, priorities: jax.Array) -> Any:
        return replay.frames.update_priorities(buffer, indices, priorities)
