"""Soft Actor-Critic with automatic entropy tuning (Haarnoja et al. 2018)."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import optax

from sparserl.agents.actor_critic.off_policy import OffPolicyAgent, weighted
from sparserl.agents.actor_critic.off_policy_config import SACConfig
from sparserl.agents.presets import SAC_PRESETS
from sparserl.agents.registry import register_agent
from sparserl.nets.actor_critic import GaussianActor, TwinCritic

_LOG_2 = math.log(2.0)


def tanh_gaussian_sample(mean: jax.Array, log_std: jax.Array, key: jax.Array):
    """tanh(u), u ~ N(mean, std), and its log-density with the tanh change of variables.

    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), the numerically stable form.
    """
    std = jnp.exp(log_std)
    u = mean + std * jax.random.normal(key, mean.shape)
    gaussian = -0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    correction = 2.0 * (_LOG_2 - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u), jnp.sum(gaussian - correction, axis=-1)


@dataclasses.dataclass(frozen=True)
class SAC(OffPolicyAgent):
    """Twin soft Q critics with a Polyak-averaged target, a tanh-Gaussian actor and a learned
    temperature alpha driven to the target entropy."""

    config: SACConfig
    name: ClassVar[str] = "sac"
    target_networks: ClassVar[tuple[str, ...]] = ("critic",)
    loss_names: ClassVar[tuple[str, ...]] = ("critic_loss", "actor_loss", "alpha")

    def build_networks(self):
        cfg = self.config
        return {
            "actor": GaussianActor(self.action_dim, cfg.hidden, cfg.width),
            "critic": TwinCritic(cfg.hidden, cfg.width),
        }

    @property
    def target_entropy(self) -> float:
        cfg = self.config
        return -float(self.action_dim) if cfg.target_entropy is None else cfg.target_entropy

    @functools.cached_property
    def _alpha_optimizer(self) -> optax.GradientTransformation:
        return optax.inject_hyperparams(optax.adam)(0.0)

    def init_extra(self, learning_rate):
        log_alpha = jnp.log(jnp.asarray(self.config.initial_alpha, jnp.float32))
        opt = optax.inject_hyperparams(optax.adam)(learning_rate).init(log_alpha)
        return {"log_alpha": log_alpha, "opt_state": opt}

    def _policy(self, actor_params, obs):
        mean, log_std = self.networks["actor"].apply(actor_params, obs)
        return mean, jnp.clip(log_std, self.config.log_std_min, self.config.log_std_max)

    def _sample(self, actor_params, obs, key):
        return tanh_gaussian_sample(*self._policy(actor_params, obs), key)

    def explore(self, params, obs, key):
        return self._sample(params["actor"], obs, key)[0]

    def greedy(self, params, obs):
        return jnp.tanh(self._policy(params["actor"], obs)[0])

    def _soft_target(self, actor_params, critic_target_params, alpha, batch, key):
        """r + discount * (min target Q - alpha * log pi) at a' ~ pi(s')."""
        next_action, next_logp = self._sample(actor_params, batch["next_obs"], key)
        return self.critic_target(critic_target_params, batch, next_action, -alpha * next_logp)

    def _soft_objective(self, actor_params, critic_params, alpha, obs, key):
        """alpha * log pi(a|s) - min Q(s, a) per example at a ~ pi(s), and log pi."""
        action, logp = self._sample(actor_params, obs, key)
        q1, q2 = self.networks["critic"].apply(critic_params, obs, action)
        return alpha * logp - jnp.minimum(q1, q2), logp

    def temperature(self, extra):
        return jnp.exp(extra["log_alpha"])

    def critic_targets(self, params, targets, extra, batch, key):
        alpha = self.temperature(extra)
        return self._soft_target(params["actor"], targets["critic"], alpha, batch, key)

    def actor_objective(self, params, alpha, obs, key):
        return self._soft_objective(params["actor"], params["critic"], alpha, obs, key)[0]

    def update(self, nets, extra, batch, key, step, trainer):
        next_key, actor_key = jax.random.split(key)
        alpha = self.temperature(extra)

        target = self._soft_target(
            nets["actor"].params, nets["critic"].target, alpha, batch, next_key
        )
        critic_loss, grads = jax.value_and_grad(self.twin_critic_loss)(
            nets["critic"].params, batch, target
        )
        nets = trainer.train(nets, "critic", grads, step)

        def actor_loss(actor_params):
            objective, logp = self._soft_objective(
                actor_params, nets["critic"].params, alpha, batch["obs"], actor_key
            )
            return jnp.mean(objective), logp

        (policy_loss, logp), grads = jax.value_and_grad(actor_loss, has_aux=True)(
            nets["actor"].params
        )
        nets = trainer.train(nets, "actor", grads, step)

        # Temperature: minimise -log_alpha * (logp + target entropy) (Haarnoja et al. 2018).
        entropy_gap = jax.lax.stop_gradient(jnp.mean(logp) + self.target_entropy)
        alpha_grad = -entropy_gap
        updates, opt_state = self._alpha_optimizer.update(alpha_grad, extra["opt_state"])
        extra = {"log_alpha": extra["log_alpha"] + updates, "opt_state": opt_state}

        nets = trainer.sync(nets, self.target_networks)
        losses = {
            "critic_loss": weighted(critic_loss),
            "actor_loss": weighted(policy_loss),
            "alpha": weighted(alpha),
        }
        return nets, extra, losses


register_agent(SAC, SACConfig, SAC_PRESETS)
