"""IQN (Dabney et al. 2018) and Munchausen-IQN (Vieillard et al. 2020) as Dopamine's JAX agents
compute them: quantile regression at sampled fractions τ on n-step returns."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from sparserl.agents.presets import IQN_PRESETS
from sparserl.agents.registry import register_agent
from sparserl.agents.value import losses
from sparserl.agents.value.config import IQNConfig, MunchausenIQNConfig
from sparserl.agents.value.value_agent import NetworkPass, ValueAgent


@dataclasses.dataclass(frozen=True)
class IQN(ValueAgent):
    """Quantile values Z_τ(s, a) at τ ~ U(0, 1); Q(s, a) is their mean over K samples.

    The loss regresses N online quantiles of the taken action on N' target samples
    r + γⁿ Z_τ'(s', a*), a* greedy for the target network's Q (the online one with double Q).
    """

    config: IQNConfig
    name: ClassVar[str] = "iqn"
    extra_target_passes: ClassVar[int] = 0  # M-IQN's target evaluation on s

    @property
    def quantile_embedding_dim(self) -> int:  # type: ignore[override]
        return self.config.quantile_embedding_dim

    def example_inputs(self, obs_shape: tuple[int, ...]) -> tuple[jax.Array, ...]:
        """An observation and the K fractions of acting (so FLOPs are those of acting)."""
        taus = jnp.zeros((1, self.config.num_quantile_samples), jnp.float32)
        return (*super().example_inputs(obs_shape), taus)

    def update_passes(self, obs_shape: tuple[int, ...]) -> list[NetworkPass]:
        """The online net at N fractions (differentiated), the target at N' and the greedy
        selection at K on s': the target side is as large as the online one, so it counts."""
        cfg = self.config
        obs = jnp.zeros((1, *obs_shape), jnp.float32)

        def at(samples: int, differentiated: bool = False) -> NetworkPass:
            return NetworkPass((obs, jnp.zeros((1, samples), jnp.float32)), differentiated)

        return [
            at(cfg.num_tau_samples, differentiated=True),
            at(cfg.num_tau_prime_samples),
            at(cfg.num_quantile_samples),
        ] + [at(cfg.num_quantile_samples)] * self.extra_target_passes

    def quantiles(
        self, apply: Any, params: Any, obs: jax.Array, key: jax.Array, samples: int
    ) -> tuple[jax.Array, jax.Array]:
        """Quantile values [B, samples, A] at fractions τ ~ U(0, 1) [B, samples], and τ."""
        taus = self.fractions(key, obs.shape[0], samples)
        return apply(params, obs, taus), taus

    def fractions(self, key: jax.Array, batch: int, samples: int) -> jax.Array:
        """Quantile fractions τ ~ U(0, 1) [batch, samples]."""
        return jax.random.uniform(key, (batch, samples))

    def network_inputs(self, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, ...]:
        """Observations and the K fractions of acting."""
        return obs, self.fractions(key, obs.shape[0], self.config.num_quantile_samples)

    def q_values(self, apply: Any, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        values, _ = self.quantiles(apply, params, obs, key, self.config.num_quantile_samples)
        return jnp.mean(values, axis=1)

    def per_example_loss(
        self, apply: Any, params: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        cfg = self.config
        online_key, target_key = jax.random.split(key)
        values, taus = self.quantiles(apply, params, batch["obs"], online_key, cfg.num_tau_samples)
        taken = losses.chosen(jnp.swapaxes(values, 1, 2), batch["action"])  # [B, N]
        targets = jax.lax.stop_gradient(
            self.quantile_targets(apply, params, target_params, batch, target_key)
        )
        return losses.quantile_huber_loss(taken, targets, taus, cfg.kappa)

    def quantile_targets(
        self, apply: Any, params: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        """Target samples [B, N'] of the return distribution of each example."""
        sample_key, policy_key = jax.random.split(key)
        next_values = self._next_target_quantiles(apply, target_params, batch, sample_key)
        selector = params if self.config.double_q else target_params
        next_q = self.q_values(apply, selector, batch["next_obs"], policy_key)
        next_actions = jnp.argmax(next_q, axis=-1)
        return losses.quantile_td_targets(
            batch["return"], batch["discount"], next_values, next_actions
        )

    def _next_target_quantiles(
        self, apply: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        """Z_τ'(s', ·) of the target network at N' fresh fractions: [B, N', A]."""
        samples = self.config.num_tau_prime_samples
        return self.quantiles(apply, target_params, batch["next_obs"], key, samples)[0]


@dataclasses.dataclass(frozen=True)
class MunchausenIQN(IQN):
    """IQN whose target adds α τ log π(a|s) to the n-step return and bootstraps with the soft
    value of π = softmax(q / τ), q the target network's Q-values (Vieillard et al. 2020).

    It acts ε-greedily on Q like IQN (the authors' m_iqn.py can also sample from π).
    """

    config: MunchausenIQNConfig
    name: ClassVar[str] = "m-iqn"
    extra_target_passes: ClassVar[int] = 1  # the target net at K on s, for log π(a|s)

    def quantile_targets(
        self, apply: Any, params: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        cfg = self.config
        sample_key, next_key, current_key = jax.random.split(key, 3)
        next_values = self._next_target_quantiles(apply, target_params, batch, sample_key)
        return losses.munchausen_quantile_targets(
            batch["return"],
            batch["discount"],
            next_values,
            self.q_values(apply, target_params, batch["next_obs"], next_key),
            self.q_values(apply, target_params, batch["obs"], current_key),
            batch["action"],
            temperature=cfg.entropy_temperature,
            alpha=cfg.munchausen_alpha,
            log_policy_clip=cfg.log_policy_clip,
        )


register_agent(IQN, IQNConfig, IQN_PRESETS)
register_agent(MunchausenIQN, MunchausenIQNConfig, IQN_PRESETS)
