"""The training program of PPO on JAX environments, vmapped over runs.

Each run steps `num_envs` environments side by side. An iteration collects one rollout of
`num_steps` steps of every environment (a `lax.scan`, environments included), turns it into
advantages and trains both networks for `num_epochs` epochs of minibatches. A chunk is a whole
number of iterations followed by an evaluation of the deterministic policy, all in one jitted
call, so the run layer drives it like `OffPolicyProgram.jax_chunk`.

Optional running normalisation (SB3's VecNormalize): observations are normalised with
statistics updated at every step before the policy sees them (the rollout stores normalised
observations, evaluation uses the statistics as they are at its start), and rewards are divided
by the running standard deviation of each environment's discounted return.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from sparserl.agents.ppo import LOSS_NAMES, PPO
from sparserl.sparsity import SparseMethod
from sparserl.train.evaluation import evaluate
from sparserl.train.networks import NetState, NetworkTrainer, Optimizer, init_net
from sparserl.train.off_policy_program import EpisodeStats, JaxEnvCarry, OffPolicyProgram
from sparserl.train.point import RunPoint

PyTree = Any
_NORM_EPS = 1e-8  # VecNormalize epsilon


@struct.dataclass
class RunningStats:
    """Running mean and variance over batches (Chan et al.'s parallel update, as SB3's
    RunningMeanStd, which starts from count 1e-4)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def start(cls, shape=()) -> RunningStats:
        return cls(
            jnp.zeros(shape, jnp.float32),
            jnp.ones(shape, jnp.float32),
            jnp.asarray(1e-4, jnp.float32),
        )

    def update(self, batch: jax.Array) -> RunningStats:
        """Merged with a batch `[N, *shape]`."""
        batch_mean, batch_var = jnp.mean(batch, axis=0), jnp.var(batch, axis=0)
        n = jnp.asarray(batch.shape[0], jnp.float32)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        return RunningStats(self.mean + delta * n / total, m2 / total, total)

    def normalize(self, x: jax.Array, clip: float) -> jax.Array:
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + _NORM_EPS), -clip, clip)

    def scale(self, x: jax.Array, clip: float) -> jax.Array:
        """Divided by the running std, not centred (VecNormalize's rewards)."""
        return jnp.clip(x / jnp.sqrt(self.var + _NORM_EPS), -clip, clip)


@struct.dataclass
class OnPolicyRun:
    """Everything one run carries besides its environments (batched by vmap)."""

    nets: dict[str, NetState]
    key: jax.Array
    gamma: jax.Array
    learning_rate: jax.Array  # the initial learning rate (annealing scales it)
    obs_stats: RunningStats
    return_stats: RunningStats
    discounted_return: jax.Array  # [num_envs]: the reward normaliser's running returns
    loss_sums: dict[str, jax.Array]
    loss_weights: dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class OnPolicyProgram:
    """The compiled pieces for one (agent, env, per-network methods, run length)."""

    agent: PPO
    env: Any  # JaxEnv
    methods: tuple[tuple[str, SparseMethod], ...]  # (network name, method), hashable
    eval_episodes: int
    steps: int

    @property
    def method_of(self) -> dict[str, SparseMethod]:
        return dict(self.methods)

    @functools.cached_property
    def optimizer(self) -> Optimizer:
        cfg = self.agent.config
        return Optimizer(cfg.adam_eps, l2=cfg.l2_weight_decay)

    @property
    def learning_starts(self) -> int:
        """Env steps before learning: PPO learns from its first rollout on."""
        return 0

    @property
    def rollout_size(self) -> int:
        """Env steps of one run per iteration (num_envs * num_steps); chunk lengths are
        multiples of it."""
        return self.agent.config.rollout_size

    @property
    def iterations(self) -> int:
        """Learning iterations (rollouts) in the whole run."""
        return (self.steps - self.learning_starts) // self.rollout_size

    @property
    def total_updates(self) -> dict[str, int]:
        """Optimizer steps each network takes in the whole run (the methods' total_steps)."""
        updates = self.iterations * self.agent.config.updates_per_rollout
        return {"actor": updates, "critic": updates}

    def example_params(self, key: jax.Array | None = None) -> dict[str, PyTree]:
        """Initial parameters of every network of one run (names and shapes)."""
        key = jax.random.key(0) if key is None else key
        if isinstance(key, jax.core.Tracer):  # inside init_run
            return self.agent.init_params(key, self.env.obs_shape)
        return self._jitted_init_params(key)

    @functools.cached_property
    def _jitted_init_params(self):
        # One compiled call instead of op-by-op dispatch of the orthogonal inits (~4 s to ~1 s).
        return jax.jit(functools.partial(self.agent.init_params, obs_shape=self.env.obs_shape))

    def _env_action(self, action: jax.Array) -> jax.Array:
        """Continuous actions clipped to the environment's box; discrete ones as they are."""
        if self.agent.discrete:
            return action
        low, high = jnp.asarray(self.env.action_low), jnp.asarray(self.env.action_high)
        return jnp.clip(action, low, high)

    # ---- one run ----------------------------------------------------------------------------
    def init_run(self, point: RunPoint) -> OnPolicyRun:
        """Fresh sparse actor and critic with their optimizers and normalisers for one run."""
        init_key, sparse_key, key = jax.random.split(point.key, 3)
        params = self.example_params(init_key)
        methods = self.method_of
        nets = {}
        for i, (name, p) in enumerate(params.items()):
            nets[name] = init_net(
                methods[name],
                self.optimizer,
                p,
                jax.random.fold_in(sparse_key, i),
                point.targets[name],
                point.learning_rate,
                point.weight_decay,
                with_target=False,
            )
        zero = jnp.zeros((), jnp.float32)
        return OnPolicyRun(
            nets=nets,
            key=key,
            gamma=jnp.asarray(point.gamma, jnp.float32),
            learning_rate=jnp.asarray(point.learning_rate, jnp.float32),
            obs_stats=RunningStats.start(self.env.obs_shape),
            return_stats=RunningStats.start(),
            discounted_return=jnp.zeros(self.agent.config.num_envs, jnp.float32),
            loss_sums=dict.fromkeys(LOSS_NAMES, zero),
            loss_weights=dict.fromkeys(LOSS_NAMES, zero),
        )

    def _params(self, run: OnPolicyRun) -> dict[str, PyTree]:
        return {name: net.params for name, net in run.nets.items()}

    def _observe(self, run: OnPolicyRun, obs: jax.Array) -> tuple[OnPolicyRun, jax.Array]:
        """The observations `[E, ...]` as the networks see them, after updating the stats."""
        cfg = self.agent.config
        if not cfg.normalize_observations:
            return run, obs
        stats = run.obs_stats.update(obs)
        return run.replace(obs_stats=stats), stats.normalize(obs, cfg.normalize_clip)

    def _final_obs(self, run: OnPolicyRun, obs: jax.Array) -> jax.Array:
        cfg = self.agent.config
        if not cfg.normalize_observations:
            return obs
        return run.obs_stats.normalize(obs, cfg.normalize_clip)

    def _reward(self, run: OnPolicyRun, reward, ended) -> tuple[OnPolicyRun, jax.Array]:
        """The reward the agent learns from: scaled, then normalised (VecNormalize)."""
        cfg = self.agent.config
        reward = reward * cfg.reward_scale
        if not cfg.normalize_rewards:
            return run, reward
        returns = run.discounted_return * run.gamma + reward
        stats = run.return_stats.update(returns)
        run = run.replace(return_stats=stats, discounted_return=jnp.where(ended, 0.0, returns))
        return run, stats.scale(reward, cfg.normalize_clip)

    def _env_step(self, carry, _):
        """One step of a run's `num_envs` environments with sampled actions."""
        run, env = carry
        run, obs = self._observe(run, env.obs)
        key, act_key = jax.random.split(run.key)
        action, logp = self.agent.sample(run.nets["actor"].params, obs, act_key)
        env_key, step_key = jax.random.split(env.key)
        step_keys = jax.random.split(step_key, obs.shape[0])
        step = jax.vmap(self.env.step)(step_keys, env.state, self._env_action(action))
        ended = step.terminated | step.truncated
        run, reward = self._reward(run.replace(key=key), step.reward, ended)
        transition = {
            "obs": obs,
            "action": action,
            "logp": logp,
            "reward": reward,
            "terminated": step.terminated,
            "truncated": step.truncated,
            "final_obs": self._final_obs(run, step.final_obs),
        }
        env = JaxEnvCarry(step.state, step.obs, env_key, env.stats.record(step.reward, ended))
        return (run, env), transition

    def _collect(self, run: OnPolicyRun, env: JaxEnvCarry):
        """One rollout: `num_steps` steps of every environment; the rollout is time-major."""
        length = self.agent.config.num_steps
        (run, env), rollout = jax.lax.scan(self._env_step, (run, env), None, length)
        return run, env, rollout

    def _set_learning_rate(self, net: NetState, learning_rate) -> NetState:
        hyperparams = {**net.opt_state.hyperparams, "learning_rate": learning_rate}
        return net.replace(opt_state=net.opt_state._replace(hyperparams=hyperparams))

    def _learn(self, run: OnPolicyRun, rollout: dict, iteration) -> OnPolicyRun:
        """The PPO update on one rollout; `iteration` (unbatched) counts learning iterations
        from 0, so the networks' optimizer steps of this update follow the previous ones."""
        cfg = self.agent.config
        nets = run.nets
        if cfg.anneal_learning_rate:
            fraction = 1.0 - iteration / max(self.iterations, 1)
            lr = run.learning_rate * jnp.maximum(fraction, 0.0)
            nets = {name: self._set_learning_rate(net, lr) for name, net in nets.items()}
        key, update_key = jax.random.split(run.key)
        batch = self.agent.prepare(nets["critic"].params, rollout, run.gamma)
        trainer = NetworkTrainer(self.method_of, self.optimizer, tau=1.0)
        first_step = iteration * cfg.updates_per_rollout + 1
        nets, losses = self.agent.update(nets, batch, update_key, first_step, trainer)
        sums = {n: run.loss_sums[n] + v * w for n, (v, w) in losses.items()}
        weights = {n: run.loss_weights[n] + w for n, (_, w) in losses.items()}
        return run.replace(nets=nets, key=key, loss_sums=sums, loss_weights=weights)

    def _greedy_env_actions(self, run: OnPolicyRun, obs: jax.Array) -> jax.Array:
        cfg = self.agent.config
        if cfg.normalize_observations:
            obs = run.obs_stats.normalize(obs, cfg.normalize_clip)
        return self._env_action(self.agent.greedy(self._params(run), obs))

    # ---- batched pieces ---------------------------------------------------------------------
    def _iteration(self, carry, iteration, learning: bool):
        runs, envs = carry
        runs, envs, rollouts = jax.vmap(self._collect)(runs, envs)
        if learning:
            runs = jax.vmap(self._learn, in_axes=(0, 0, None))(runs, rollouts, iteration)
        return (runs, envs), None

    # The per-layer counts and mean losses since the last chunk, as the off-policy program
    # computes them (`runs` has the same `nets`, `loss_sums` and `loss_weights`).
    _chunk_metrics = OffPolicyProgram._chunk_metrics

    # ---- JAX-environment driver -------------------------------------------------------------
    def init_env(self, runs_key: jax.Array) -> JaxEnvCarry:
        """The `num_envs` environments of one run, freshly reset."""
        reset_key, key = jax.random.split(runs_key)
        num = self.agent.config.num_envs
        obs, state = jax.vmap(self.env.reset)(jax.random.split(reset_key, num))
        # Strong dtypes: some gymnax resets leave weakly typed fields (Pendulum's last_u) that
        # a step makes strong, which would compile the chunk a second time for chunk 2.
        state = jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), state)
        return JaxEnvCarry(state, obs, key, EpisodeStats.zeros((num,)))

    def jax_chunk(self, runs, envs, start, acting: int, learning: int):
        """`acting` env steps collected without learning, then `learning` env steps of PPO
        iterations, from env step `start` (per run; both multiples of `rollout_size`), then
        one evaluation of the deterministic policy; returns runs, envs and the metrics."""
        size = self.rollout_size
        for name, length in (("acting", acting), ("learning", learning)):
            if length % size:
                raise ValueError(
                    f"{name} steps ({length}) must be a multiple of the rollout size "
                    f"num_envs * num_steps = {size}"
                )
        carry = (runs, envs)
        for length, learn in ((acting, False), (learning, True)):
            if length:
                first = (start - self.learning_starts) // size
                iterations = first + jnp.arange(length // size)
                carry = jax.lax.scan(
                    functools.partial(self._iteration, learning=learn), carry, iterations
                )[0]
            start = start + length
        runs, envs = carry

        def evaluate_run(run, key):
            return evaluate(
                self.env,
                lambda obs, _: self._greedy_env_actions(run, obs),
                key,
                self.eval_episodes,
            )

        eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(envs.key)
        runs, metrics = self._chunk_metrics(runs)
        metrics["eval_return"] = jax.vmap(evaluate_run)(runs, eval_keys)
        # The runs' environments together: sums over the `num_envs` axis.
        stats = envs.stats
        metrics.update(
            EpisodeStats(
                stats.episode_return,
                jnp.sum(stats.finished_return_sum, axis=-1),
                jnp.sum(stats.finished_episodes, axis=-1),
            ).chunk_metrics()
        )
        return runs, envs.replace(stats=stats.restart()), metrics

    @functools.cached_property
    def compiled_init(self):
        return jax.jit(jax.vmap(self.init_run))

    @functools.cached_property
    def compiled_init_env(self):
        return jax.jit(jax.vmap(self.init_env))

    @functools.cached_property
    def compiled_jax_chunk(self):
        return jax.jit(self.jax_chunk, static_argnums=(3, 4), donate_argnums=(0, 1))
