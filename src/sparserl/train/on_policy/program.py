"""The training program of PPO, vmapped over runs.

Each run steps `num_envs` environments side by side. An iteration collects one rollout of
`num_steps` steps of every environment, turns it into advantages and trains both networks for
`num_epochs` epochs of minibatches. Every step is act (sample actions), step the environments,
record (the reward to learn from, the final observations); two drivers share these pieces:
- JAX environments (gymnax): a chunk (whole iterations, then an evaluation of the deterministic
  policy) is one jitted call, each rollout a `lax.scan` with the environments inside;
- host environments (gymnasium MuJoCo): Python steps the environments of all runs together
  between one jitted act and one jitted record call per step, writing the rollout in place on
  the device, then calls one jitted learning step per rollout.

Optional running normalisation (SB3's VecNormalize): observations are normalised with
statistics updated at every step before the policy sees them (the rollout stores normalised
observations, evaluation uses the statistics as they are at its start), and rewards are divided
by the running standard deviation of each environment's discounted return.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import struct

from sparserl.agents.actor_critic.ppo import LOSS_NAMES, PPO
from sparserl.train.acting import env_actions, greedy_actions
from sparserl.train.core.actor_critic_program import ActorCriticProgram
from sparserl.train.core.chunk_metrics import add_losses, chunk_metrics
from sparserl.train.core.episodes import EpisodeStats, JaxEnvCarry
from sparserl.train.core.evaluation import evaluate_episodes
from sparserl.train.core.networks import NetState, NetworkTrainer
from sparserl.train.core.point import RunPoint
from sparserl.types import PyTree

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
class Collection:
    """What collecting a rollout changes in a run: its sampling key and its normalisers; kept
    apart so the host driver's per-step calls pass this and the actor, not the whole run."""

    key: jax.Array
    obs_stats: RunningStats
    return_stats: RunningStats
    discounted_return: jax.Array  # [num_envs]: the reward normaliser's running returns


@struct.dataclass
class OnPolicyRun:
    """Everything one run carries besides its environments (batched by vmap)."""

    nets: dict[str, NetState]
    key: jax.Array  # for the updates
    gamma: jax.Array
    learning_rate: jax.Array  # the initial learning rate (annealing scales it)
    collection: Collection
    loss_sums: dict[str, jax.Array]
    loss_weights: dict[str, jax.Array]
    probed_masks: PyTree = None  # {network: masks at the last probe}; None without probes


@dataclasses.dataclass(frozen=True)
class OnPolicyProgram(ActorCriticProgram):
    """The compiled pieces for one (agent, env, per-network methods, run length)."""

    agent: PPO

    @property
    def learning_starts(self) -> int:
        """Env steps before learning: PPO learns from its first rollout on."""
        return 0

    @property
    def rollout_size(self) -> int:
        """Env steps of one run per iteration (num_envs * num_steps); chunk lengths are
        multiples of it."""
        return self.agent.config.rollout_size

    def check_rollouts(self, name: str, steps: int) -> None:
        """Refuse a number of env steps that is not a whole number of rollouts."""
        if steps % self.rollout_size:
            raise ValueError(
                f"{name} steps ({steps}) must be a multiple of the rollout size "
                f"num_envs * num_steps = {self.rollout_size}"
            )

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
        return env_actions(self.agent, self.env, action)

    # ---- one run ----------------------------------------------------------------------------
    def init_run(self, point: RunPoint) -> OnPolicyRun:
        """Fresh sparse actor and critic with their optimizers and normalisers for one run."""
        init_key, sparse_key, key, act_key = jax.random.split(point.key, 4)
        params = self.example_params(init_key)
        nets = self.init_nets(params, sparse_key, point)
        zero = jnp.zeros((), jnp.float32)
        collection = Collection(
            key=act_key,
            obs_stats=RunningStats.start(self.env.obs_shape),
            return_stats=RunningStats.start(),
            discounted_return=jnp.zeros(self.agent.config.num_envs, jnp.float32),
        )
        return OnPolicyRun(
            nets=nets,
            key=key,
            gamma=jnp.asarray(point.gamma, jnp.float32),
            learning_rate=jnp.asarray(point.learning_rate, jnp.float32),
            collection=collection,
            loss_sums=dict.fromkeys(LOSS_NAMES, zero),
            loss_weights=dict.fromkeys(LOSS_NAMES, zero),
            probed_masks=self.probed_masks(nets),
        )

    def _observe(self, col: Collection, obs: jax.Array) -> tuple[Collection, jax.Array]:
        """The observations `[E, ...]` as the networks see them, after updating the stats."""
        cfg = self.agent.config
        if not cfg.normalize_observations:
            return col, obs
        stats = col.obs_stats.update(obs)
        return col.replace(obs_stats=stats), stats.normalize(obs, cfg.normalize_clip)

    def _final_obs(self, col: Collection, obs: jax.Array) -> jax.Array:
        cfg = self.agent.config
        if not cfg.normalize_observations:
            return obs
        return col.obs_stats.normalize(obs, cfg.normalize_clip)

    def _reward(self, col: Collection, gamma, reward, ended) -> tuple[Collection, jax.Array]:
        """The reward the agent learns from: scaled, then normalised (VecNormalize)."""
        cfg = self.agent.config
        reward = reward * cfg.reward_scale
        if not cfg.normalize_rewards:
            return col, reward
        returns = col.discounted_return * gamma + reward
        stats = col.return_stats.update(returns)
        col = col.replace(return_stats=stats, discounted_return=jnp.where(ended, 0.0, returns))
        return col, stats.scale(reward, cfg.normalize_clip)

    def _act(
        self, col: Collection, actor_params: PyTree, obs: jax.Array
    ) -> tuple[Collection, dict, jax.Array]:
        """Sampled actions at the observations `[E, ...]` of a run's environments: the
        collection (normaliser and key advanced), the transitions' obs, action and logp, and
        the actions to step the environments with."""
        col, obs = self._observe(col, obs)
        key, act_key = jax.random.split(col.key)
        action, logp = self.agent.sample(actor_params, obs, act_key)
        acted = {"obs": obs, "action": action, "logp": logp}
        return col.replace(key=key), acted, self._env_action(action)

    def _record(
        self, col: Collection, gamma, reward, terminated, truncated, final_obs
    ) -> tuple[Collection, dict]:
        """The rest of the transitions once the environments stepped: the reward to learn
        from and the final observations, as the networks see them."""
        col, learned = self._reward(col, gamma, reward, terminated | truncated)
        recorded = {
            "reward": learned,
            "terminated": terminated,
            "truncated": truncated,
            "final_obs": self._final_obs(col, final_obs),
        }
        return col, recorded

    def _collect(self, run: OnPolicyRun, env: JaxEnvCarry):
        """One rollout: `num_steps` steps of every JAX environment; the rollout is time-major."""
        actor, gamma = run.nets["actor"].params, run.gamma

        def env_step(carry, _):
            col, env = carry
            col, acted, actions = self._act(col, actor, env.obs)
            env_key, step_key = jax.random.split(env.key)
            step_keys = jax.random.split(step_key, actions.shape[0])
            step = jax.vmap(self.env.step)(step_keys, env.state, actions)
            outcome = (step.reward, step.terminated, step.truncated, step.final_obs)
            col, recorded = self._record(col, gamma, *outcome)
            stats = env.stats.record(step.reward, step.terminated | step.truncated)
            env = JaxEnvCarry(step.state, step.obs, env_key, stats)
            return (col, env), {**acted, **recorded}

        carry = (run.collection, env)
        (col, env), rollout = jax.lax.scan(env_step, carry, None, self.agent.config.num_steps)
        return run.replace(collection=col), env, rollout

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
        return add_losses(run, losses).replace(nets=nets, key=key)

    def _greedy_env_actions(
        self, params: dict[str, PyTree], obs_stats: RunningStats, obs: jax.Array
    ) -> jax.Array:
        return greedy_actions(self.agent, self.env, params, obs_stats, obs)

    # ---- batched pieces ---------------------------------------------------------------------
    def _iteration(self, carry, iteration):
        runs, envs, last = carry  # last: the previous rollouts, kept for the probe (or None)
        runs, envs, rollouts = jax.vmap(self._collect)(runs, envs)
        runs = jax.vmap(self._learn, in_axes=(0, 0, None))(runs, rollouts, iteration)
        return (runs, envs, None if last is None else rollouts), None

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

    def jax_chunk(self, runs, envs, start, steps: int, probe=False, cosine=False):
        """`steps` env steps of PPO iterations (a multiple of `rollout_size`) from env step
        `start` (per run), then one evaluation of the deterministic policy and, where `probe`
        is true, the probe on the last rollout (with gradient cosine matrices where `cosine`
        is); returns runs, envs and the metrics. PPO learns from its first rollout
        (`learning_starts` = 0)."""
        size = self.rollout_size
        self.check_rollouts("chunk", steps)
        last = None
        if self.diagnostics is not None:
            shapes = jax.eval_shape(jax.vmap(self._collect), runs, envs)[2]
            last = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        iterations = start // size + jnp.arange(steps // size)
        runs, envs, last = jax.lax.scan(self._iteration, (runs, envs, last), iterations)[0]

        def evaluate_run(run, key):
            return evaluate_episodes(
                self.env,
                lambda obs, _: self._greedy_env_actions(
                    self.params_of(run), run.collection.obs_stats, obs
                ),
                key,
                self.eval_episodes,
            )

        eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(envs.key)
        runs, metrics = chunk_metrics(runs)
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
        runs, probed = self.probe_runs(runs, last, probe, cosine)
        return runs, envs.replace(stats=stats.restart()), {**metrics, **probed}

    # ---- the probe ----------------------------------------------------------------------------
    def _probe_run(self, run: OnPolicyRun, rollout: dict, probe, cosine):
        """One run's probe on `diagnostics.batch_size` examples drawn without replacement from
        its last rollout, prepared (advantages, returns) with its current critic."""

        def draw(key: jax.Array) -> dict:
            batch = self.agent.prepare(run.nets["critic"].params, rollout, run.gamma)
            size = batch["advantage"].shape[0]
            chosen = jax.random.permutation(key, size)[: self.diagnostics.batch_size]
            return jax.tree.map(lambda x: x[chosen], batch)

        return self.probe_with(run, {}, draw, probe, cosine)

    def probe_runs(self, runs: OnPolicyRun, rollouts: dict, probe, cosine):
        """Every run's probe on its last rollout where `probe` is true; the runs unchanged
        without diagnostics."""
        if self.diagnostics is None:
            return runs, {}
        return jax.vmap(self._probe_run, in_axes=(0, 0, None, None))(runs, rollouts, probe, cosine)

    # ---- host-environment driver ------------------------------------------------------------
    def empty_rollout(self, runs: int) -> dict[str, jax.Array]:
        """Zeroed rollouts of `runs` runs, `[runs, num_steps, num_envs, ...]`, to write into."""
        cfg = self.agent.config
        lead = (runs, cfg.num_steps, cfg.num_envs)
        obs = (*lead, *self.env.obs_shape)
        if self.agent.discrete:
            action = jnp.zeros(lead, jnp.int32)
        else:
            action = jnp.zeros((*lead, self.agent.action_dim), jnp.float32)
        return {  # distinct arrays: the host calls donate them
            "obs": jnp.zeros(obs, jnp.float32),
            "action": action,
            "logp": jnp.zeros(lead, jnp.float32),
            "reward": jnp.zeros(lead, jnp.float32),
            "terminated": jnp.zeros(lead, bool),
            "truncated": jnp.zeros(lead, bool),
            "final_obs": jnp.zeros(obs, jnp.float32),
        }

    def host_act(
        self, cols: Collection, actor_params: PyTree, rollout: dict, t, obs: jax.Array
    ) -> tuple[Collection, dict, jax.Array]:
        """Step `t` of a rollout, before the environments step: every run's actions at `obs`
        `[R, E, ...]`, written to `rollout`; returns collections, rollout and env actions."""
        cols, acted, actions = jax.vmap(self._act)(cols, actor_params, obs)
        rollout = {**rollout, **{k: rollout[k].at[:, t].set(v) for k, v in acted.items()}}
        return cols, rollout, actions

    def host_record(
        self, cols: Collection, gamma, rollout: dict, t, reward, terminated, truncated, final_obs
    ) -> tuple[Collection, dict]:
        """Step `t` of a rollout, after the environments stepped (arrays `[R, E, ...]`)."""
        outcome = (reward, terminated, truncated, final_obs)
        cols, recorded = jax.vmap(self._record)(cols, gamma, *outcome)
        rollout = {**rollout, **{k: rollout[k].at[:, t].set(v) for k, v in recorded.items()}}
        return cols, rollout

    # Only the rollout is donated: the collections are small, and the runs keep theirs valid.
    @functools.cached_property
    def compiled_host_act(self):
        return jax.jit(self.host_act, donate_argnums=(2,))

    @functools.cached_property
    def compiled_host_record(self):
        return jax.jit(self.host_record, donate_argnums=(2,))

    @functools.cached_property
    def compiled_learn(self):
        """The PPO update of every run on its rollout: runs, rollouts `[R, T, E, ...]`, the
        (unbatched) iteration number."""
        return jax.jit(jax.vmap(self._learn, in_axes=(0, 0, None)), donate_argnums=(0,))

    @functools.cached_property
    def compiled_greedy(self):
        """Batched deterministic env actions: params and obs stats of every run, obs
        `[R, K, ...]` -> `[R, K, ...]`."""
        return jax.jit(jax.vmap(self._greedy_env_actions))
