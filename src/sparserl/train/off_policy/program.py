"""The training program of the off-policy actor-critic agents (SAC, TD3), vmapped over runs.

Each environment step: act (uniformly random before `learning_starts`, the agent's
exploration policy after), store the transition, and from `learning_starts` on one gradient
step of the agent. Two drivers share these jitted pieces:
- JAX environments (gymnax): a chunk of steps is one `lax.scan`, environment included;
- host environments (gymnasium MuJoCo): Python steps one environment per run on the CPU and
  calls one jitted, vmapped function per step (store, update, next actions).
Either way the host gets control after each chunk for evaluation, progress and outputs.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import struct

from sparserl import replay
from sparserl.agents.actor_critic.off_policy import OffPolicyAgent
from sparserl.train.acting import env_actions, greedy_actions
from sparserl.train.core.actor_critic_program import ActorCriticProgram
from sparserl.train.core.chunk_metrics import add_losses, chunk_metrics
from sparserl.train.core.episodes import EpisodeStats, JaxEnvCarry
from sparserl.train.core.evaluation import evaluate_episodes
from sparserl.train.core.networks import NetState, NetworkTrainer
from sparserl.train.core.point import RunPoint
from sparserl.train.core.transitions import replay_transition
from sparserl.types import PyTree


@struct.dataclass
class OffPolicyRun:
    """Everything one run carries between steps except the environment (batched by vmap)."""

    nets: dict[str, NetState]
    extra: PyTree
    buffer: replay.ReplayState
    key: jax.Array
    gamma: jax.Array
    loss_sums: dict[str, jax.Array]
    loss_weights: dict[str, jax.Array]
    probed_masks: PyTree = None  # {network: masks at the last probe}; None without probes


@dataclasses.dataclass(frozen=True)
class OffPolicyProgram(ActorCriticProgram):
    """The compiled pieces for one (agent, env, per-network methods, run length)."""

    agent: OffPolicyAgent

    @property
    def learning_starts(self) -> int:
        return self.agent.config.learning_starts

    def example_params(self, key: jax.Array | None = None) -> dict[str, PyTree]:
        """Initial parameters of every network of one run (names and shapes)."""
        key = jax.random.key(0) if key is None else key
        inputs = self.agent.example_inputs(self.env.obs_shape)
        modules = self.agent.networks
        keys = jax.random.split(key, len(modules))
        return {
            name: module.init(k, *inputs[name])
            for k, (name, module) in zip(keys, modules.items(), strict=True)
        }

    def _scale(self, action: jax.Array) -> jax.Array:
        return env_actions(self.agent, self.env, action)

    # ---- one run ----------------------------------------------------------------------------
    def init_run(self, point: RunPoint) -> OffPolicyRun:
        """Fresh sparse networks (target networks as copies), optimizers, replay for one run."""
        init_key, sparse_key, key = jax.random.split(point.key, 3)
        params = self.example_params(init_key)
        nets = self.init_nets(params, sparse_key, point)
        obs = jnp.zeros(self.env.obs_shape, jnp.float32)
        example = {
            "obs": obs,
            "action": jnp.zeros((self.agent.action_dim,), jnp.float32),
            "reward": jnp.zeros((), jnp.float32),
            "next_obs": obs,
            "terminal": jnp.zeros((), bool),
            "episode_end": jnp.zeros((), bool),
        }
        names = self.agent.loss_names
        zero = jnp.zeros((), jnp.float32)
        return OffPolicyRun(
            nets=nets,
            extra=self.agent.init_extra(point.learning_rate),
            buffer=replay.init_replay(example, self.agent.config.replay_capacity),
            key=key,
            gamma=jnp.asarray(point.gamma, jnp.float32),
            loss_sums=dict.fromkeys(names, zero),
            loss_weights=dict.fromkeys(names, zero),
            probed_masks=self.probed_masks(nets),
        )

    def _act(self, run: OffPolicyRun, obs: jax.Array, t) -> tuple[OffPolicyRun, jax.Array]:
        """Action in [-1, 1] for env step `t`: uniform before `learning_starts`, else explore."""
        key, random_key, explore_key = jax.random.split(run.key, 3)
        policy = self.agent.explore(self.params_of(run), obs[None], explore_key)[0]
        uniform = jax.random.uniform(random_key, policy.shape, minval=-1.0, maxval=1.0)
        return run.replace(key=key), jnp.where(t < self.learning_starts, uniform, policy)

    def _store(self, run: OffPolicyRun, transition: dict) -> OffPolicyRun:
        return run.replace(buffer=replay.uniform.add(run.buffer, transition))

    def _learn(self, run: OffPolicyRun, update_step) -> OffPolicyRun:
        """One agent update on a uniform batch; `update_step` counts updates from 1."""
        cfg = self.agent.config
        key, sample_key, update_key = jax.random.split(run.key, 3)
        indices = replay.uniform.sample_indices(run.buffer, sample_key, cfg.batch_size, 1)
        batch = replay.nstep_batch(run.buffer.storage, indices, 1, run.gamma)
        trainer = NetworkTrainer(self.method_of, self.optimizer, cfg.tau)
        nets, extra, losses = self.agent.update(
            run.nets, run.extra, batch, update_key, update_step, trainer
        )
        return add_losses(run, losses).replace(nets=nets, extra=extra, key=key)

    def _greedy_env_actions(self, params: dict[str, PyTree], obs: jax.Array) -> jax.Array:
        return greedy_actions(self.agent, self.env, params, None, obs)

    # ---- batched pieces -------------------------------------------------------------------
    def _learn_from(self, runs: OffPolicyRun, t) -> OffPolicyRun:
        """Every run's update after env step `t` once learning has started (a branch on the
        shared step, so warm-up and learning steps are one compiled program)."""

        def learn(runs):
            return jax.vmap(self._learn, in_axes=(0, None))(runs, t - self.learning_starts + 1)

        return jax.lax.cond(t >= self.learning_starts, learn, lambda r: r, runs)

    # ---- JAX-environment driver -----------------------------------------------------------
    def init_env(self, runs_key: jax.Array) -> JaxEnvCarry:
        reset_key, key = jax.random.split(runs_key)
        obs, state = self.env.reset(reset_key)
        return JaxEnvCarry(state, obs, key, EpisodeStats.zeros())

    def _jax_step(self, carry, t):
        runs, envs = carry
        runs, actions = jax.vmap(self._act, in_axes=(0, 0, None))(runs, envs.obs, t)

        def env_step(env: JaxEnvCarry, action):
            key, step_key = jax.random.split(env.key)
            step = self.env.step(step_key, env.state, self._scale(action))
            transition = replay_transition(env.obs, action, step)
            stats = env.stats.record(step.reward, transition["episode_end"])
            return JaxEnvCarry(step.state, step.obs, key, stats), transition

        envs, transitions = jax.vmap(env_step)(envs, actions)
        runs = self._learn_from(jax.vmap(self._store)(runs, transitions), t)
        return (runs, envs), None

    def jax_chunk(self, runs, envs, start, steps: int, probe=False, cosine=False):
        """`steps` env steps from env step `start` (learning from `learning_starts` on), then
        one evaluation of the deterministic policy and, where `probe` is true, the probe (with
        gradient cosine matrices where `cosine` is); returns runs, envs and the metrics."""
        runs, envs = jax.lax.scan(self._jax_step, (runs, envs), start + jnp.arange(steps))[0]

        def evaluate_run(run, key):
            params = self.params_of(run)
            return evaluate_episodes(
                self.env,
                lambda obs, _: self._greedy_env_actions(params, obs),
                key,
                self.eval_episodes,
            )

        eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(envs.key)
        runs, metrics = chunk_metrics(runs)
        metrics["eval_return"] = jax.vmap(evaluate_run)(runs, eval_keys)
        metrics.update(envs.stats.chunk_metrics())
        runs, probed = self.probe_runs(runs, probe, cosine)
        return runs, envs.replace(stats=envs.stats.restart()), {**metrics, **probed}

    # ---- the probe ----------------------------------------------------------------------------
    def _probe_run(self, run: OffPolicyRun, probe, cosine) -> tuple[OffPolicyRun, dict]:
        """One run's probe on a uniform draw from its replay, as an update draws one."""

        def draw(key: jax.Array) -> dict:
            size = self.diagnostics.batch_size
            indices = replay.uniform.sample_indices(run.buffer, key, size, 1)
            return replay.nstep_batch(run.buffer.storage, indices, 1, run.gamma)

        return self.probe_with(run, run.extra, draw, probe, cosine)

    def probe_runs(self, runs: OffPolicyRun, probe, cosine) -> tuple[OffPolicyRun, dict]:
        """Every run's probe where `probe` is true; the runs unchanged without diagnostics."""
        if self.diagnostics is None:
            return runs, {}
        return jax.vmap(self._probe_run, in_axes=(0, None, None))(runs, probe, cosine)

    # ---- host-environment driver ----------------------------------------------------------
    def host_learn_and_act(self, runs, next_obs, t):
        """After step `t`'s transitions are stored: learn (once learning has started), then
        pick the actions of step t+1."""
        runs = self._learn_from(runs, t)
        return jax.vmap(self._act, in_axes=(0, 0, None))(runs, next_obs, t + 1)

    # Storing is its own call: compiled together with the update, XLA fuses the batch gather
    # with the buffer write and then copies the whole buffer every step (~30 ms at 1M).
    @functools.cached_property
    def compiled_store(self):
        return jax.jit(jax.vmap(self._store), donate_argnums=(0,))

    @functools.cached_property
    def compiled_learn_and_act(self):
        return jax.jit(self.host_learn_and_act, donate_argnums=(0,))

    @functools.cached_property
    def compiled_greedy(self):
        """Batched deterministic actions: params [R, ...], obs [R, K, ...] -> [R, K, A]."""
        return jax.jit(jax.vmap(self._greedy_env_actions))
