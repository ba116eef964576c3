"""The jitted training program of value-based agents, vmapped over runs.

One *iteration* = `period` environment steps (ε-greedy acting, replay writes) followed, from
the first learning iteration on, by `updates` gradient steps (sample, loss, masked optimizer
step, the sparse method's topology update, target sync on schedule). A *chunk* = a `lax.scan`
over iterations plus one greedy evaluation; the host calls the compiled chunk repeatedly,
which is how progress is shown and results are written while one compiled program runs the
whole grid of runs.

The iteration counter is not vmapped, so every schedule decision (learning started, target
sync, topology update) is a real branch shared by all runs rather than a per-run select, and
warm-up, mixed and learning chunks are one compiled program.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from sparserl.agents import (
    ValueAgent,
    drq_augmentation,
    epsilon_greedy,
    linearly_decaying_epsilon,
)
from sparserl.analysis.probe import ProbedNetwork
from sparserl.envs import JaxEnv
from sparserl.experiment.plan import ONLINE
from sparserl.sparsity import SparseMethod
from sparserl.train.acting import evaluation_actions
from sparserl.train.core.episodes import EpisodeStats
from sparserl.train.core.evaluation import evaluate_episodes
from sparserl.train.core.networks import NetState, NetworkTrainer, Optimizer, weight_counts
from sparserl.train.core.point import RunPoint
from sparserl.train.core.probing import Diagnostics, probe_if, probe_key
from sparserl.train.core.transitions import replay_transition
from sparserl.train.value_jax.replay import TransitionReplay
from sparserl.types import PyTree


@struct.dataclass
class RunState:
    """Everything one run carries between iterations (batched over runs by vmap)."""

    net: NetState  # the online network, its target and their sparse state
    buffer: Any
    env_state: Any  # None on host environments (ValueAtariProgram)
    obs: jax.Array | None
    key: jax.Array
    gamma: jax.Array
    episodes: EpisodeStats
    # Accumulated since the last chunk boundary, for the metrics of the chunk:
    loss_sum: jax.Array
    loss_count: jax.Array
    # The masks at the last probe (the initial ones before the first); None without probes.
    probed_masks: PyTree = None


@dataclasses.dataclass(frozen=True)
class ValueProgram:
    """The compiled pieces for one (agent, env, method, schedule): init and chunk."""

    agent: ValueAgent
    env: JaxEnv
    method: SparseMethod
    eval_episodes: int
    diagnostics: Diagnostics | None = None  # the in-loop probe, or None (off)

    @functools.cached_property
    def network(self):
        return self.agent.network(self.env)

    @functools.cached_property
    def optimizer(self) -> Optimizer:
        return Optimizer(self.agent.config.adam_eps)

    @functools.cached_property
    def trainer(self) -> NetworkTrainer:
        """The masked trainer of the online network (hard target syncs)."""
        return NetworkTrainer({ONLINE: self.method}, self.optimizer, tau=1.0)

    @property
    def schedule(self) -> tuple[int, int]:
        return self.agent.config.update_schedule()

    def example_params(self, key: jax.Array | None = None) -> PyTree:
        """Network parameters for one run (shapes and layer names)."""
        key = jax.random.key(0) if key is None else key
        return self.network.init(key, *self.agent.example_inputs(self.env.obs_shape))

    @functools.cached_property
    def replay(self) -> TransitionReplay:
        """Whole transitions in the buffer, drawn uniformly or by priority."""
        return TransitionReplay(self.agent.config, self.agent.prioritized)

    # ---- init ---------------------------------------------------------------------------
    def init_run(self, point: RunPoint) -> RunState:
        """Fresh network, sparse masks, optimizer, replay and environment for one run."""
        init_key, sparse_key, env_key, key = jax.random.split(point.key, 4)
        obs, env_state = self.env.reset(env_key)
        return self._new_run(point, init_key, sparse_key, key, self.replay.init(obs)).replace(
            env_state=env_state, obs=obs
        )

    def _new_run(
        self, point: RunPoint, init_key: jax.Array, sparse_key: jax.Array, key: jax.Array, buffer
    ) -> RunState:
        """A run's learner: network, masks, target, optimizer and `buffer`; no environment."""
        params = self.example_params(init_key)
        if point.masks is None:
            params, sparse = self.method.init(params, sparse_key, point.counts[ONLINE])
        else:
            params, sparse = self.method.init(params, sparse_key, masks=point.masks[ONLINE])
        zero = jnp.zeros((), jnp.float32)
        net = NetState(
            params=params,
            opt_state=self.optimizer.init(params, point.learning_rate, point.weight_decay),
            sparse=sparse,
            target=params,
        )
        return RunState(
            net=net,
            buffer=buffer,
            env_state=None,
            obs=None,
            key=key,
            gamma=jnp.asarray(point.gamma, jnp.float32),
            episodes=EpisodeStats.zeros(),
            loss_sum=zero,
            loss_count=zero,
            probed_masks=None if self.diagnostics is None else sparse.masks,
        )

    # ---- one run's pieces -----------------------------------------------------------------
    def _apply(self, params: PyTree, *inputs: jax.Array) -> jax.Array:
        return self.network.apply(params, *inputs)

    def _explore(
        self, params: PyTree, obs: jax.Array, env_step: jax.Array, act_key, q_key
    ) -> jax.Array:
        """The ε-greedy action of env step `env_step` (ε decaying linearly after warm-up)."""
        cfg = self.agent.config
        q = self.agent.q_values(self._apply, params, obs[None], q_key)[0]
        epsilon = linearly_decaying_epsilon(
            env_step, cfg.epsilon_decay_steps, cfg.min_replay, cfg.epsilon_train
        )
        return epsilon_greedy(act_key, q, epsilon)

    def _act(self, run: RunState, env_step: jax.Array) -> RunState:
        # The agent's key comes last: with JAX's partitionable threefry (the default),
        # split(k, n + 1)[:n] == split(k, n), so the other streams do not depend on it.
        key, act_key, env_key, q_key = jax.random.split(run.key, 4)
        action = self._explore(run.net.params, run.obs, env_step, act_key, q_key)
        step = self.env.step(env_key, run.env_state, action)
        transition = replay_transition(run.obs, action, step)
        return run.replace(
            buffer=self.replay.add(run.buffer, transition),
            env_state=step.state,
            obs=step.obs,
            key=key,
            episodes=run.episodes.record(step.reward, transition["episode_end"]),
        )

    def _update(self, run: RunState, optimizer_step: jax.Array) -> RunState:
        # augment_key last: the other streams are those of split(run.key, 3)
        key, sample_key, loss_key, augment_key = jax.random.split(run.key, 4)
        indices, weights, batch = self.replay.sample(run.buffer, sample_key, run.gamma)
        if self.agent.config.data_augmentation:
            batch = augmented(batch, augment_key)

        def loss_fn(params):
            per_example = self.agent.per_example_loss(
                self._apply, params, run.net.target, batch, loss_key
            )
            return jnp.mean(weights * per_example), per_example

        (loss, per_example), grads = jax.value_and_grad(loss_fn, has_aux=True)(run.net.params)
        nets = self.trainer.train({ONLINE: run.net}, ONLINE, grads, optimizer_step)
        return run.replace(
            net=nets[ONLINE],
            buffer=self.replay.update_priorities(run.buffer, indices, per_example),
            key=key,
            loss_sum=run.loss_sum + loss,
            loss_count=run.loss_count + 1.0,
        )

    def _sync_target(self, run: RunState) -> RunState:
        return run.replace(net=self.trainer.sync({ONLINE: run.net}, (ONLINE,))[ONLINE])

    # ---- iterations (batched over runs) ---------------------------------------------------
    def _iteration(self, runs: RunState, iteration: jax.Array) -> RunState:
        """Iteration `iteration`: its `period` env steps (a loop, so the acting code compiles
        once), then its updates from the first learning iteration on (a branch on the shared
        counter, so warm-up, mixed and learning chunks are one compiled program)."""
        period, _ = self.schedule
        act = jax.vmap(self._act, in_axes=(0, None))
        runs = jax.lax.fori_loop(0, period, lambda j, r: act(r, iteration * period + j), runs)
        learning = iteration >= self.agent.config.first_learning_iteration()
        return jax.lax.cond(learning, self._learn, lambda r, _: r, runs, iteration)

    def _learn(self, runs: RunState, iteration: jax.Array) -> RunState:
        """The updates of learning iteration `iteration`, then the target sync when due."""
        period, updates = self.schedule
        done_before = (iteration - self.agent.config.first_learning_iteration()) * updates
        update = jax.vmap(self._update, in_axes=(0, None))
        for u in range(updates):
            runs = update(runs, done_before + u + 1)
        env_steps = (iteration + 1) * period
        sync = env_steps % self.agent.config.target_update_period == 0
        return jax.lax.cond(sync, jax.vmap(self._sync_target), lambda r: r, runs)

    def _eval_actions(self, params: PyTree, obs: jax.Array, key: jax.Array) -> jax.Array:
        """Actions [B] of the evaluation policy (ε-greedy at `epsilon_eval`) for obs [B, ...]."""
        return evaluation_actions(self.agent, self.env, {ONLINE: params}, None, obs, key)

    def _evaluate(self, run: RunState) -> jax.Array:
        key, _ = jax.random.split(jax.random.fold_in(run.key, 1))
        act = functools.partial(self._eval_actions, run.net.params)
        return evaluate_episodes(self.env, act, key, self.eval_episodes)

    def _chunk_metrics(self, runs: RunState) -> tuple[RunState, dict]:
        """The chunk's mean loss and the online and target networks' counts; the loss sums
        restart for the next chunk."""
        metrics = {
            "losses": {"loss": runs.loss_sum / jnp.maximum(runs.loss_count, 1)},
            "online": jax.vmap(weight_counts)(runs.net.params, runs.net.sparse.masks),
            "target": jax.vmap(weight_counts)(runs.net.target, runs.net.sparse.masks),
        }
        zero = jnp.zeros_like(runs.loss_sum)
        return runs.replace(loss_sum=zero, loss_count=zero), metrics

    def _probe_run(self, run: RunState, probe: jax.Array, cosine: jax.Array):
        """One run's probe of its online network on a batch drawn from its replay as an update
        draws one (see `train.core.probing.probe_if`)."""
        sample_key, key = jax.random.split(probe_key(run.key))
        net, agent = run.net, self.agent

        def describe():
            _, _, batch = self.replay.sample(
                run.buffer, sample_key, run.gamma, self.diagnostics.batch_size
            )

            def loss(params, example):
                return jnp.mean(
                    agent.per_example_loss(self._apply, params, net.target, example, key)
                )

            values = (
                agent.q_values(self._apply, net.params, batch["obs"], key),
                agent.q_targets(self._apply, net.params, net.target, batch, key),
            )
            network = ProbedNetwork(
                self.network,
                net.params,
                net.sparse.masks,
                agent.network_inputs(batch["obs"], key),
                loss,
                values,
            )
            return {ONLINE: network}, batch

        metrics, masks = probe_if(probe, cosine, describe, {ONLINE: run.probed_masks})
        return run.replace(probed_masks=masks[ONLINE]), metrics

    def probe_runs(self, runs: RunState, probe, cosine) -> tuple[RunState, dict]:
        """Every run's probe where `probe` is true; the runs unchanged without diagnostics."""
        if self.diagnostics is None:
            return runs, {}
        return jax.vmap(self._probe_run, in_axes=(0, None, None))(runs, probe, cosine)

    def chunk(
        self,
        runs: RunState,
        start: jax.Array,
        iterations: int,
        probe: jax.Array = False,
        cosine: jax.Array = False,
    ) -> tuple[RunState, dict]:
        """`iterations` iterations from iteration `start` (acting only before the first
        learning iteration), then one evaluation and, where `probe` is true, the probe (saving
        gradient cosine matrices where `cosine` is); returns the runs and this chunk's metrics
        (one value per run)."""
        runs = jax.lax.scan(
            lambda r, i: (self._iteration(r, i), None), runs, start + jnp.arange(iterations)
        )[0]
        eval_return = jax.vmap(self._evaluate)(runs)
        episodes = runs.episodes.chunk_metrics()
        runs, metrics = self._chunk_metrics(runs.replace(episodes=runs.episodes.restart()))
        runs, probed = self.probe_runs(runs, probe, cosine)
        return runs, {"eval_return": eval_return, **episodes, **metrics, **probed}

    @functools.cached_property
    def compiled_init(self):
        return jax.jit(jax.vmap(self.init_run))

    @functools.cached_property
    def compiled_chunk(self):
        return jax.jit(self.chunk, static_argnums=(2,), donate_argnums=(0,))


def augmented(batch: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """The batch with `obs` and `next_obs` augmented by independent draws of Dopamine's DrQ
    augmentation (random shift, then intensity), as its DrQ(ε) does in every update."""
    obs_key, next_key = jax.random.split(key)
    return {
        **batch,
        "obs": drq_augmentation(obs_key, batch["obs"]),
        "next_obs": drq_augmentation(next_key, batch["next_obs"]),
    }
