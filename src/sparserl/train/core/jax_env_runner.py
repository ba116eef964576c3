"""The runner of SAC / TD3 / PPO on JAX environments (off-policy and on-policy alike): every
chunk is one compiled call of the program. It meets the `train.runner.Runner` protocol."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from sparserl.train.core.actor_critic_program import ActorCriticProgram
from sparserl.train.core.host_runner import observation_normalizer
from sparserl.train.core.networks import NetState
from sparserl.train.core.point import RunPoint
from sparserl.train.core.probing import probe_flags, probed_metrics


class JaxEnvRunner:
    """SAC / TD3 / PPO on a JAX environment: every chunk is one compiled call."""

    def __init__(self, program: ActorCriticProgram, points: RunPoint, interval: int):
        self.program, self.interval = program, interval
        self.runs = program.compiled_init(points)
        env_keys = jax.vmap(lambda k: jax.random.fold_in(k, 7))(points.key)
        self.envs = program.compiled_init_env(env_keys)

    def chunk(self, index: int) -> dict:
        flags = probe_flags(self.program.diagnostics, index)
        self.runs, self.envs, metrics = self.program.compiled_jax_chunk(
            self.runs, self.envs, jnp.int32(index * self.interval), self.interval, *flags
        )
        return probed_metrics(jax.device_get(metrics), *flags)

    def checkpoint(self) -> dict[str, Any]:
        """The device state a checkpoint saves: the runs and their environments."""
        return {"runs": self.runs, "envs": self.envs}

    def evaluation(self) -> dict[str, Any]:
        """What the last evaluation drew from besides the networks: the key of each run's
        evaluation (raw key data [R, ...]) and PPO's observation normaliser."""
        keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(self.envs.key)
        return {"key": jax.random.key_data(keys), **observation_normalizer(self.runs)}

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        """Continue exactly from a checkpoint's state."""
        self.runs, self.envs = state["runs"], state["envs"]

    def networks(self) -> dict[str, NetState]:
        """The runs' networks by name, batched over runs."""
        return dict(self.runs.nets)

    def close(self) -> None:
        """Nothing to release: the environments live in the compiled program."""
