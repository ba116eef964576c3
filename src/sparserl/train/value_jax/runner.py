"""The runner of value agents on JAX environments: every chunk is one call of the compiled
program. It meets the `train.runner.Runner` protocol."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from sparserl.experiment.plan import ONLINE
from sparserl.train.core.networks import NetState
from sparserl.train.core.point import RunPoint
from sparserl.train.core.probing import probe_flags, probed_metrics
from sparserl.train.value_jax.program import ValueProgram


class ValueRunner:
    """The chunks of a value-based program on a JAX environment."""

    def __init__(self, program: ValueProgram, points: RunPoint, interval: int):
        self.program, self.interval = program, interval
        self.period = program.agent.config.update_schedule()[0]
        self.runs = program.compiled_init(points)

    def chunk(self, index: int) -> dict:
        per_chunk = self.interval // self.period
        flags = probe_flags(self.program.diagnostics, index)
        self.runs, metrics = self.program.compiled_chunk(
            self.runs, jnp.int32(index * per_chunk), per_chunk, *flags
        )
        return probed_metrics(jax.device_get(metrics), *flags)

    def checkpoint(self) -> dict[str, Any]:
        """The device state a checkpoint saves: everything the next chunk depends on."""
        return {"runs": self.runs}

    def evaluation(self) -> dict[str, Any]:
        """What the last evaluation drew from besides the networks: the key ValueProgram's
        `_evaluate` derived from each run's key, as raw key data [R, ...]."""
        keys = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, 1))[0])(self.runs.key)
        return {"key": jax.random.key_data(keys)}

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        """Continue from a checkpoint's state; the chunks are then exactly those of an
        uninterrupted run."""
        self.runs = state["runs"]

    def networks(self) -> dict[str, NetState]:
        """The runs' one network, batched over runs."""
        return {ONLINE: self.runs.net}

    def close(self) -> None:
        """Nothing to release: the environments live in the compiled program."""
