"""DQN (Mnih et al. 2015) with Dopamine's options: Huber or MSE loss, double Q, n-step."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax

from sparserl.agents.presets import ATARI_100K_ENV, DQN_PRESETS
from sparserl.agents.registry import register_agent
from sparserl.agents.value import losses
from sparserl.agents.value.config import ValueConfig
from sparserl.agents.value.value_agent import ValueAgent


@dataclasses.dataclass(frozen=True)
class DQN(ValueAgent):
    """Q-learning with a target network on n-step returns."""

    name: ClassVar[str] = "dqn"

    def per_example_loss(
        self, apply: Any, params: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        q = apply(params, batch["obs"])
        targets = self.q_targets(apply, params, target_params, batch, key)
        error = losses.chosen(q, batch["action"]) - jax.lax.stop_gradient(targets)
        return losses.huber(error) if self.config.loss == "huber" else 0.5 * error**2


register_agent(DQN, ValueConfig, DQN_PRESETS, env_presets={"drq_eps": ATARI_100K_ENV})
