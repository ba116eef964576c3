"""Proximal Policy Optimization with the clipped objective and GAE (Schulman et al. 2017).

Two separate networks, `actor` and `critic`, each with its own sparse method and optimizer.
The agent turns a rollout into advantages and runs the minibatch epochs; the training loop
(`sparserl.train.on_policy.program`) collects the rollouts and owns the optimizers, masks and
topology updates, reached through `trainer.train(nets, name, grads, step)`; the gradient clip
takes its norm inside the masks from `trainer.masked_norm(nets, grads)` (agents never read
masks).

Discrete actions: a categorical over the actor's logits. Continuous actions: a diagonal
Gaussian with a free, state-independent log-std; the sample is stored and scored unclipped,
and the loop clips it to the environment's bounds when stepping (as SB3 and CleanRL do).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from sparserl.agents.actor_critic.off_policy import Losses, weighted
from sparserl.agents.actor_critic.ppo_config import PRESETS as PPO_PRESETS
from sparserl.agents.actor_critic.ppo_config import PPOConfig
from sparserl.agents.errors import AgentConfigError
from sparserl.agents.registry import register_agent
from sparserl.nets.actor_critic import CategoricalActor, GaussianActor, ValueCritic
from sparserl.types import PyTree

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

# Orthogonal initialisation gains of baselines' ppo2 (Huang et al. 2022, detail 2).
_HIDDEN_GAIN = math.sqrt(2.0)
_HEAD_GAIN = {"actor": 0.01, "critic": 1.0}

LOSS_NAMES = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma,
    lam,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimates and value targets (Schulman et al. 2016), time-major.

    All arrays are `[T, ...]`. `next_values[t]` is the value of the observation step t led to
    (before any reset): it bootstraps unless the episode terminated, so a time-limit truncation
    bootstraps from its final observation; the advantage recursion stops wherever an episode
    ended (terminated or truncated). Returns (advantages, advantages + values).
    """
    terminated = jnp.asarray(terminated, bool)
    ended = terminated | jnp.asarray(truncated, bool)
    deltas = rewards + gamma * jnp.where(terminated, 0.0, next_values) - values
    carry_over = jnp.where(ended, 0.0, gamma * lam)

    def backward(advantage, inputs):
        delta, factor = inputs
        advantage = delta + factor * advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(values[0]), (deltas, carry_over), reverse=True
    )
    return advantages, advantages + values


def clipped_objectives(
    logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, clip_eps
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The clipped objective of each example, min(r A, clip(r, 1 - eps, 1 + eps) A), with the
    probability ratios r and their logs."""
    log_ratio = logp - old_logp
    ratio = jnp.exp(log_ratio)
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return jnp.minimum(ratio * advantages, clipped * advantages), ratio, log_ratio


def clipped_surrogate(
    logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, clip_eps
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The negated clipped objective -L^CLIP (Schulman et al. 2017, Eq. 7) to minimise, with
    the fraction of clipped ratios and the KL estimate E[(r - 1) - log r] (Schulman 2020)."""
    objectives, ratio, log_ratio = clipped_objectives(logp, old_logp, advantages, clip_eps)
    loss = -jnp.mean(objectives)
    stats = {
        "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32)),
        "approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
    }
    return loss, stats


def value_errors(values, old_values, returns, value_clip: float | None) -> jax.Array:
    """Squared error to the return of each example; with `value_clip`, the larger of it and
    the error of the value moved at most `value_clip` from the rollout's (baselines ppo2)."""
    loss = (values - returns) ** 2
    if value_clip is not None:
        moved = old_values + jnp.clip(values - old_values, -value_clip, value_clip)
        loss = jnp.maximum(loss, (moved - returns) ** 2)
    return loss


def value_loss(values, old_values, returns, value_clip: float | None) -> jax.Array:
    """The mean of `value_errors`."""
    return jnp.mean(value_errors(values, old_values, returns, value_clip))


@dataclasses.dataclass(frozen=True)
class PPO:
    """PPO with a categorical (discrete) or Gaussian (continuous) `actor` and a `critic`."""

    config: PPOConfig
    num_actions: int | None  # discrete actions, or None for continuous ones
    action_shape: tuple[int, ...] = ()
    name: ClassVar[str] = "ppo"
    family: ClassVar[str] = "on_policy"  # trained by the on-policy loop (rollouts)
    network_names: ClassVar[tuple[str, ...]] = ("actor", "critic")
    target_networks: ClassVar[tuple[str, ...]] = ()

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def check_env(cls, env: Any) -> None:
        """PPO acts on discrete actions or one vector of continuous ones, on JAX (gymnax) and
        host (gymnasium) environments alike."""
        if env.num_actions is None and len(env.action_shape) != 1:
            raise AgentConfigError(
                f"ppo needs a vector of continuous actions, {env.env_id} has shape "
                f"{env.action_shape}"
            )

    @classmethod
    def for_env(cls, config: PPOConfig, env: Any) -> PPO:
        cls.check_env(env)
        return cls(config, env.num_actions, tuple(env.action_shape))

    @property
    def update_period(self) -> int:
        """Environment steps of one run per learning iteration (one rollout)."""
        return self.config.rollout_size

    def total_updates(self, steps: int) -> dict[str, int]:
        """Optimizer steps each network takes in a run of `steps` environment steps."""
        updates = steps // self.config.rollout_size * self.config.updates_per_rollout
        return {"actor": updates, "critic": updates}

    @property
    def discrete(self) -> bool:
        return self.num_actions is not None

    @property
    def action_dim(self) -> int:
        """Logits (discrete) or action dimensions (continuous) of the actor's head."""
        return self.num_actions if self.discrete else int(self.action_shape[0])

    @functools.cached_property
    def networks(self) -> dict[str, nn.Module]:
        cfg = self.config
        args = (cfg.hidden, cfg.width, cfg.activation)
        if self.discrete:
            actor = CategoricalActor(self.num_actions, *args)
        else:
            actor = GaussianActor(self.action_dim, *args, state_dependent_std=False)
        return {"actor": actor, "critic": ValueCritic(*args)}

    def example_inputs(self, obs_shape: tuple[int, ...]) -> dict[str, tuple[jax.Array, ...]]:
        obs = jnp.zeros((1, *obs_shape), jnp.float32)
        return {"actor": (obs,), "critic": (obs,)}

    def init_params(self, key: jax.Array, obs_shape: tuple[int, ...]) -> dict[str, PyTree]:
        """Initial (dense) parameters of both networks: orthogonal kernels with ppo2's gains
        if `orthogonal_init`, zero biases, log-std at `initial_log_std`."""
        inputs = self.example_inputs(obs_shape)
        keys = dict(zip(self.networks, jax.random.split(key, len(self.networks)), strict=True))
        params = {n: m.init(keys[n], *inputs[n]) for n, m in self.networks.items()}
        if self.config.orthogonal_init:
            params = {n: self._orthogonal(n, p, keys[n]) for n, p in params.items()}
        if not self.discrete:
            actor = params["actor"]["params"]
            log_std = jnp.full_like(actor["log_std"], self.config.initial_log_std)
            params["actor"] = {**params["actor"], "params": {**actor, "log_std": log_std}}
        return params

    def _orthogonal(self, name: str, params: PyTree, key: jax.Array) -> PyTree:
        leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
        out = []
        for i, (path, leaf) in enumerate(leaves):
            names = [getattr(p, "key", None) for p in path]
            if names[-1] == "kernel":
                gain = _HEAD_GAIN[name] if "head" in names else _HIDDEN_GAIN
                init = nn.initializers.orthogonal(gain)
                leaf = init(jax.random.fold_in(key, i), leaf.shape, leaf.dtype)
            elif names[-1] == "bias":
                leaf = jnp.zeros_like(leaf)
            out.append(leaf)
        return jax.tree.unflatten(treedef, out)

    # ---- policy -----------------------------------------------------------------------------
    def _policy(self, actor_params: PyTree, obs: jax.Array):
        return self.networks["actor"].apply(actor_params, obs)

    def log_prob_entropy(
        self, actor_params: PyTree, obs: jax.Array, actions: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Log-probabilities [B] of `actions` and the policy's entropies [B] at `obs`."""
        if self.discrete:
            log_probs = jax.nn.log_softmax(self._policy(actor_params, obs))
            logp = jnp.take_along_axis(log_probs, actions[:, None].astype(jnp.int32), 1)[:, 0]
            entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)
            return logp, entropy
        mean, log_std = self._policy(actor_params, obs)
        logp = gaussian_log_prob(actions, mean, log_std)
        entropy = jnp.sum(log_std + 0.5 + _HALF_LOG_2PI, axis=-1)
        return logp, entropy

    def sample(
        self, actor_params: PyTree, obs: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Sampled actions (int32 [B] or unclipped float32 [B, A]) and their log-probs [B]."""
        if self.discrete:
            logits = self._policy(actor_params, obs)
            actions = jax.random.categorical(key, logits).astype(jnp.int32)
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), actions[:, None], 1)[:, 0]
            return actions, logp
        mean, log_std = self._policy(actor_params, obs)
        actions = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
        return actions, gaussian_log_prob(actions, mean, log_std)

    def greedy(self, params: dict[str, PyTree], obs: jax.Array) -> jax.Array:
        """Deterministic evaluation actions: the most likely action, or the Gaussian's mean."""
        if self.discrete:
            return jnp.argmax(self._policy(params["actor"], obs), axis=-1).astype(jnp.int32)
        return self._policy(params["actor"], obs)[0]

    def value(self, critic_params: PyTree, obs: jax.Array) -> jax.Array:
        return self.networks["critic"].apply(critic_params, obs)

    # ---- learning ---------------------------------------------------------------------------
    def prepare(self, critic_params: PyTree, rollout: dict, gamma) -> dict:
        """A time-major rollout `[T, E, ...]` (obs, action, logp, reward, terminated,
        truncated, final_obs) -> the flat training batch `[T * E, ...]` with old values,
        advantages and returns."""
        steps, envs = rollout["reward"].shape

        def values_of(obs):
            flat = obs.reshape(steps * envs, *obs.shape[2:])
            return self.value(critic_params, flat).reshape(steps, envs)

        values = values_of(rollout["obs"])
        next_values = values_of(rollout["final_obs"])
        advantages, returns = gae(
            rollout["reward"],
            values,
            next_values,
            rollout["terminated"],
            rollout["truncated"],
            gamma,
            self.config.gae_lambda,
        )
        batch = {
            "obs": rollout["obs"],
            "action": rollout["action"],
            "logp": rollout["logp"],
            "value": values,
            "advantage": advantages,
            "return": returns,
        }
        return jax.tree.map(lambda x: x.reshape(steps * envs, *x.shape[2:]), batch)

    def loss(self, params: dict[str, PyTree], batch: dict) -> tuple[jax.Array, dict]:
        """-L^CLIP - c2 * entropy + c1 * value loss (Schulman et al. 2017, Eq. 9) on a batch;
        the networks share no parameters, so each gets the gradient of its own terms."""
        cfg = self.config
        advantages = self._advantages(batch["advantage"])
        logp, entropy = self.log_prob_entropy(params["actor"], batch["obs"], batch["action"])
        policy_loss, stats = clipped_surrogate(logp, batch["logp"], advantages, cfg.clip_eps)
        values = self.value(params["critic"], batch["obs"])
        v_loss = value_loss(values, batch["value"], batch["return"], cfg.value_clip)
        entropy = jnp.mean(entropy)
        total = policy_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
        metrics = {"policy_loss": policy_loss, "value_loss": v_loss, "entropy": entropy, **stats}
        return total, metrics

    def _advantages(self, advantages: jax.Array) -> jax.Array:
        """A minibatch's advantages as the loss uses them: normalised over the minibatch if
        `normalize_advantages` (unbiased std, as torch.std in SB3 and CleanRL)."""
        if self.config.normalize_advantages:
            return (advantages - advantages.mean()) / (advantages.std(ddof=1) + 1e-8)
        return advantages

    # ---- the probe's hooks (analysis.probe through the training programs) -------------------
    def network_inputs(self, batch: dict) -> dict[str, tuple[jax.Array, ...]]:
        """Each network's inputs on a batch: observations."""
        return {"actor": (batch["obs"],), "critic": (batch["obs"],)}

    def probe_batch(
        self, params: dict[str, PyTree], targets: dict[str, PyTree], extra: PyTree, batch, key
    ) -> dict:
        """A prepared batch (see `prepare`) with its advantages as the loss of a minibatch of
        that batch uses them, so that each example's loss stands alone."""
        return {**batch, "advantage": self._advantages(batch["advantage"])}

    def per_example_losses(self, params: dict[str, PyTree], batch: dict) -> dict[str, jax.Array]:
        """Each network's own terms of the loss per example [B] of a `probe_batch`: the
        actor's -clipped objective - c2 * entropy, the critic's c1 * value error."""
        cfg = self.config
        logp, entropy = self.log_prob_entropy(params["actor"], batch["obs"], batch["action"])
        objectives = clipped_objectives(logp, batch["logp"], batch["advantage"], cfg.clip_eps)[0]
        values = self.value(params["critic"], batch["obs"])
        errors = value_errors(values, batch["value"], batch["return"], cfg.value_clip)
        return {"actor": -objectives - cfg.ent_coef * entropy, "critic": cfg.vf_coef * errors}

    def value_estimates(
        self, params: dict[str, PyTree], batch: dict
    ) -> dict[str, tuple[jax.Array, jax.Array]]:
        """{critic: (state values [B], their GAE returns [B])} of a `probe_batch`."""
        return {"critic": (self.value(params["critic"], batch["obs"]), batch["return"])}

    def _clip(self, grads: dict[str, PyTree], nets: dict, trainer: Any) -> dict[str, PyTree]:
        """Both networks' gradients scaled together to global norm <= max_grad_norm (the
        norm inside the masks, which is what the masked optimizer applies)."""
        limit = self.config.max_grad_norm
        if limit is None:
            return grads
        norm = trainer.masked_norm(nets, grads)
        scale = jnp.minimum(1.0, limit / (norm + 1e-6))
        return jax.tree.map(lambda g: g * scale, grads)

    def update(
        self, nets: dict, batch: dict, key: jax.Array, first_step, trainer: Any
    ) -> tuple[dict, Losses]:
        """`num_epochs` passes over the flat `batch` in shuffled minibatches, one optimizer
        step of each network per minibatch; `first_step` (unbatched) is the optimizer step
        number of the first one, counted from 1 by each network."""
        cfg = self.config
        size = batch["advantage"].shape[0]
        grad_fn = jax.grad(self.loss, has_aux=True)

        def minibatch_step(nets, inputs):
            minibatch, step = inputs
            params = {name: nets[name].params for name in ("actor", "critic")}
            grads, metrics = grad_fn(params, minibatch)
            grads = self._clip(grads, nets, trainer)
            nets = trainer.train(nets, "actor", grads["actor"], step)
            nets = trainer.train(nets, "critic", grads["critic"], step)
            return nets, metrics

        def epoch(nets, inputs):
            epoch_key, epoch_index = inputs
            order = jax.random.permutation(epoch_key, size)
            shuffled = jax.tree.map(
                lambda x: x[order].reshape(cfg.num_minibatches, cfg.minibatch_size, *x.shape[1:]),
                batch,
            )
            steps = first_step + epoch_index * cfg.num_minibatches + jnp.arange(cfg.num_minibatches)
            return jax.lax.scan(minibatch_step, nets, (shuffled, steps))

        keys = jax.random.split(key, cfg.num_epochs)
        nets, metrics = jax.lax.scan(epoch, nets, (keys, jnp.arange(cfg.num_epochs)))
        count = cfg.updates_per_rollout
        return nets, {name: weighted(jnp.mean(v), count) for name, v in metrics.items()}


def gaussian_log_prob(actions: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """Log-density [B] of a diagonal Gaussian at `actions` [B, A]."""
    z = (actions - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - _HALF_LOG_2PI, axis=-1)


# PPO: by environment family, and by environment id where an id's settings differ.
register_agent(PPO, PPOConfig, PPO_PRESETS)
