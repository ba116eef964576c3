"""Dopamine's compact Rainbow: C51 distributional Q-learning on n-step returns with
prioritized replay (Hessel et al. 2018; the form used by Obando-Ceron et al. 2024)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from sparserl.agents.presets import ATARI_100K_ENV, RAINBOW_PRESETS
from sparserl.agents.registry import register_agent
from sparserl.agents.value import losses
from sparserl.agents.value.config import RainbowConfig
from sparserl.agents.value.value_agent import ValueAgent


@dataclasses.dataclass(frozen=True)
class Rainbow(ValueAgent):
    """C51 head (51 atoms on [v_min, v_max]); cross-entropy to the projected target."""

    config: RainbowConfig
    name: ClassVar[str] = "rainbow"

    @property
    def num_atoms(self) -> int:  # type: ignore[override]
        return self.config.num_atoms

    @property
    def prioritized(self) -> bool:
        return self.config.prioritized

    @property
    def support(self) -> jax.Array:
        cfg = self.config
        return jnp.linspace(cfg.v_min, cfg.v_max, cfg.num_atoms)

    def expected_values(self, logits: jax.Array) -> jax.Array:
        """Q-values [B, A]: the means of the atom distributions of logits [B, A, atoms]."""
        return jnp.sum(jax.nn.softmax(logits, axis=-1) * self.support, axis=-1)

    def q_values(self, apply: Any, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        return self.expected_values(apply(params, obs))

    def per_example_loss(
        self, apply: Any, params: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        logits = losses.chosen(apply(params, batch["obs"]), batch["action"])
        next_logits = apply(target_params, batch["next_obs"])
        if self.config.double_q:
            next_online = self.q_values(apply, params, batch["next_obs"], key)
        else:
            next_online = None
        next_actions = losses.greedy_next_actions(
            next_online, self.expected_values(next_logits), self.config.double_q
        )
        next_probs = jax.nn.softmax(losses.chosen(next_logits, next_actions), axis=-1)
        target = losses.categorical_projection(
            self.support, next_probs, batch["return"], batch["discount"]
        )
        target = jax.lax.stop_gradient(target)
        return -jnp.sum(target * jax.nn.log_softmax(logits, axis=-1), axis=-1)


register_agent(Rainbow, RainbowConfig, RAINBOW_PRESETS, env_presets={"der": ATARI_100K_ENV})
