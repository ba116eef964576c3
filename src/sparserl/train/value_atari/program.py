"""The value-based program on Atari games stepped by the host (`envs.atari`).

The learner is `ValueProgram`'s (same update, target sync, sparse method); what changes is
who steps the environment and what the replay stores. Python steps one game per run, and
every agent step is two jitted, vmapped calls on the device-resident runs: the ε-greedy
actions for the stacked uint8 observations, then the store of the step's newest frame,
action and clipped reward into compact frame replay (`replay.frames`). Every `period` steps,
from the first learning iteration on, one more call runs the iteration's updates.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from sparserl import replay
from sparserl.envs.atari import AtariEnv
from sparserl.train.core.point import RunPoint
from sparserl.train.value_jax.program import RunState, ValueProgram
from sparserl.train.value_jax.replay import FrameReplay


@dataclasses.dataclass(frozen=True)
class ValueAtariProgram(ValueProgram):
    """The compiled pieces of a value agent on host-stepped Atari games."""

    env: AtariEnv

    @functools.cached_property
    def replay(self) -> FrameReplay:
        """One frame per step; the stacks are rebuilt by index when a batch is drawn."""
        return FrameReplay(self.agent.config, self.agent.prioritized)

    def init_run(self, point: RunPoint) -> RunState:
        """Fresh network, sparse masks, optimizer and empty frame replay for one run."""
        init_key, sparse_key, key = jax.random.split(point.key, 3)
        frame_shape = self.env.obs_shape[:-1]
        return self._new_run(point, init_key, sparse_key, key, self.replay.init(frame_shape))

    def _host_act(self, run: RunState, obs: jax.Array, env_step: jax.Array):
        key, act_key, q_key = jax.random.split(run.key, 3)
        action = self._explore(run.net.params, obs, env_step, act_key, q_key)
        return run.replace(key=key), action

    def _store(self, run: RunState, frame, action, reward, terminal, episode_end) -> RunState:
        # Rewards are clipped to [-1, 1] for learning (Mnih et al. 2015; Obando-Ceron et al.
        # 2024, Tables 1 and 2); returns are reported raw.
        clipped = jnp.clip(reward, -1.0, 1.0)
        buffer = self.replay.add(run.buffer, frame, action, clipped, terminal, episode_end)
        return run.replace(buffer=buffer)

    def _end_episodes(self, run: RunState) -> RunState:
        return run.replace(buffer=replay.frames.end_episode(run.buffer))

    # ---- compiled, batched over runs (the runs are donated: the replay is updated in place)
    @functools.cached_property
    def compiled_act(self):
        """(runs, obs [R, 84, 84, 4] uint8, env step) -> (runs, actions [R])."""
        return jax.jit(jax.vmap(self._host_act, in_axes=(0, 0, None)), donate_argnums=(0,))

    @functools.cached_property
    def compiled_store(self):
        """(runs, frame [R, 84, 84], action, raw reward, terminal, episode_end) -> runs."""
        return jax.jit(jax.vmap(self._store), donate_argnums=(0,))

    @functools.cached_property
    def compiled_learn(self):
        """(runs, learning iteration) -> runs after its updates and target sync."""
        return jax.jit(self._learn, donate_argnums=(0,))

    @functools.cached_property
    def compiled_end_episodes(self):
        """Runs whose games restart mid-episode (a resumed run): close each replay's episode."""
        return jax.jit(jax.vmap(self._end_episodes), donate_argnums=(0,))

    @functools.cached_property
    def compiled_probe(self):
        """(runs, probe, cosine) -> (runs, probe metrics), the runs donated."""
        return jax.jit(self.probe_runs, donate_argnums=(0,))

    @functools.cached_property
    def compiled_chunk_metrics(self):
        return jax.jit(self._chunk_metrics, donate_argnums=(0,))

    def _eval_call_actions(self, params, obs, key: jax.Array, call) -> jax.Array:
        # the evaluation's own stream: the run's key, folded with 1, then with the call count
        return self._eval_actions(params, obs, jax.random.fold_in(jax.random.fold_in(key, 1), call))

    @functools.cached_property
    def compiled_eval_actions(self):
        """(params [R, ...], obs [R, K, 84, 84, 4], run keys [R], call number) -> evaluation
        actions [R, K]."""
        return jax.jit(jax.vmap(self._eval_call_actions, in_axes=(0, 0, 0, None)))
