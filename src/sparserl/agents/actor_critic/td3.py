"""TD3: twin delayed deep deterministic policy gradient (Fujimoto et al. 2018)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from sparserl.agents.actor_critic.off_policy import OffPolicyAgent, weighted
from sparserl.agents.actor_critic.off_policy_config import TD3Config
from sparserl.agents.presets import TD3_PRESETS, ds_td3_methods
from sparserl.agents.registry import register_agent
from sparserl.nets.actor_critic import DeterministicActor, TwinCritic


@dataclasses.dataclass(frozen=True)
class TD3(OffPolicyAgent):
    """Clipped double-Q critics, target policy smoothing, and an actor (with both targets)
    updated every `policy_delay` critic updates."""

    config: TD3Config
    name: ClassVar[str] = "td3"
    target_networks: ClassVar[tuple[str, ...]] = ("actor", "critic")

    def build_networks(self):
        cfg = self.config
        return {
            "actor": DeterministicActor(self.action_dim, cfg.hidden, cfg.width),
            "critic": TwinCritic(cfg.hidden, cfg.width),
        }

    def greedy(self, params, obs):
        return self.networks["actor"].apply(params["actor"], obs)

    def explore(self, params, obs, key):
        noise = self.config.exploration_noise * jax.random.normal(
            key, (obs.shape[0], self.action_dim)
        )
        return jnp.clip(self.greedy(params, obs) + noise, -1.0, 1.0)

    def _smoothed_target(self, actor_target_params, critic_target_params, batch, key):
        """r + discount * min target Q at the target actor's action plus clipped noise."""
        cfg = self.config
        noise = cfg.policy_noise * jax.random.normal(key, batch["action"].shape)
        noise = jnp.clip(noise, -cfg.noise_clip, cfg.noise_clip)
        next_action = self.networks["actor"].apply(actor_target_params, batch["next_obs"])
        next_action = jnp.clip(next_action + noise, -1, 1)
        return self.critic_target(critic_target_params, batch, next_action)

    def _first_q(self, actor_params, critic_params, obs):
        """The first critic's Q at the actor's actions, per example."""
        action = self.networks["actor"].apply(actor_params, obs)
        return self.networks["critic"].apply(critic_params, obs, action)[0]

    def critic_targets(self, params, targets, extra, batch, key):
        return self._smoothed_target(targets["actor"], targets["critic"], batch, key)

    def actor_objective(self, params, alpha, obs, key):
        return -self._first_q(params["actor"], params["critic"], obs)

    def update(self, nets, extra, batch, key, step, trainer):
        cfg = self.config
        target = self._smoothed_target(nets["actor"].target, nets["critic"].target, batch, key)
        critic_loss, grads = jax.value_and_grad(self.twin_critic_loss)(
            nets["critic"].params, batch, target
        )
        nets = trainer.train(nets, "critic", grads, step)

        def actor_phase(nets):
            def actor_loss(actor_params):
                return -jnp.mean(self._first_q(actor_params, nets["critic"].params, batch["obs"]))

            loss, grads = jax.value_and_grad(actor_loss)(nets["actor"].params)
            # The actor's own optimizer-step count: one per `policy_delay` critic steps.
            nets = trainer.train(nets, "actor", grads, step // cfg.policy_delay)
            return trainer.sync(nets, self.target_networks), loss

        def skip(nets):
            return nets, jnp.zeros((), jnp.float32)

        delayed = jnp.asarray(step) % cfg.policy_delay == 0
        nets, policy_loss = jax.lax.cond(delayed, actor_phase, skip, nets)
        losses = {
            "critic_loss": weighted(critic_loss),
            "actor_loss": weighted(policy_loss, delayed),
        }
        return nets, extra, losses


register_agent(TD3, TD3Config, TD3_PRESETS, method_presets={"ds-td3": ds_td3_methods})
