"""The base of SAC and TD3 (`OffPolicyAgent`): an actor and a twin critic, continuous-action
checks, the shared critic target and loss, and the contract with the off-policy loop, which
owns the optimizers, the sparse methods and the target syncs.

Actions are in [-1, 1] per dimension inside the agent and the replay buffer; the loop maps
them to the environment's bounds. `update` trains the networks through the masked trainer
(`train.NetworkTrainer`): `train(nets, name, grads, step)` (masked optimizer step + topology
update) and `sync(nets, names)` (Polyak target update under the method's target policy).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from sparserl.agents.actor_critic.off_policy_config import OffPolicyConfig
from sparserl.agents.errors import AgentConfigError
from sparserl.types import PyTree

# name -> (value, weight): weight 0 marks a step where that quantity was not computed.
Losses = dict[str, tuple[jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True)
class OffPolicyAgent:
    """A continuous-control agent with an `actor` and a twin `critic` network."""

    config: OffPolicyConfig
    action_dim: int
    name: ClassVar[str] = "off_policy"
    family: ClassVar[str] = "off_policy"  # trained by the off-policy loop (replay, one env)
    network_names: ClassVar[tuple[str, ...]] = ("actor", "critic")
    target_networks: ClassVar[tuple[str, ...]] = ()
    loss_names: ClassVar[tuple[str, ...]] = ("critic_loss", "actor_loss")  # keys of `Losses`

    @classmethod
    def check_env(cls, env: Any) -> None:
        """Refuse discrete-action environments."""
        if env.discrete:
            raise AgentConfigError(
                f"{cls.name} needs continuous actions but {env.env_id} has {env.num_actions} "
                "discrete actions; use dqn, rainbow or ppo for it"
            )

    @classmethod
    def for_env(cls, config: OffPolicyConfig, env: Any) -> OffPolicyAgent:
        cls.check_env(env)
        return cls(config, int(env.action_shape[0]))

    @functools.cached_property
    def networks(self) -> dict[str, nn.Module]:
        """The modules by network name; every name has its own sparse method and optimizer."""
        return self.build_networks()

    def build_networks(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    @property
    def update_period(self) -> int:
        """Environment steps per learning iteration: one update per step."""
        return 1

    def total_updates(self, steps: int) -> dict[str, int]:
        """Optimizer steps each network takes in a run of `steps` environment steps."""
        critic = max(steps - self.config.learning_starts, 0)
        return {"actor": critic // getattr(self.config, "policy_delay", 1), "critic": critic}

    def example_inputs(self, obs_shape: tuple[int, ...]) -> dict[str, tuple[jax.Array, ...]]:
        """One-example inputs of each network, for initialisation and FLOP accounting."""
        obs = jnp.zeros((1, *obs_shape), jnp.float32)
        action = jnp.zeros((1, self.action_dim), jnp.float32)
        return {"actor": (obs,), "critic": (obs, action)}

    def init_extra(self, learning_rate: jax.Array) -> PyTree:
        """State the agent keeps besides its networks (SAC: the temperature)."""
        return {}

    def explore(self, params: dict[str, PyTree], obs: jax.Array, key: jax.Array) -> jax.Array:
        """Exploratory actions [B, A] in [-1, 1] for observations [B, ...]."""
        raise NotImplementedError

    def greedy(self, params: dict[str, PyTree], obs: jax.Array) -> jax.Array:
        """Deterministic evaluation actions [B, A] in [-1, 1]."""
        raise NotImplementedError

    def update(
        self, nets: dict, extra: PyTree, batch: dict, key: jax.Array, step, trainer: Any
    ) -> tuple[dict, PyTree, Losses]:
        """One gradient step on a batch (obs, action, return, next_obs, discount); `step`
        counts critic updates from 1."""
        raise NotImplementedError

    # ---- the probe's hooks (analysis.probe through the training programs) -------------------
    def network_inputs(self, batch: dict) -> dict[str, tuple[jax.Array, ...]]:
        """Each network's inputs on a batch: the actor sees obs, the critic obs and action."""
        return {"actor": (batch["obs"],), "critic": (batch["obs"], batch["action"])}

    def probe_batch(
        self, params: dict[str, PyTree], targets: dict[str, PyTree], extra: PyTree, batch, key
    ) -> dict:
        """The batch with what `per_example_losses` needs besides the networks being
        differentiated: the critic's targets (`target`, as an update computes them), the
        temperature (`alpha`, 0 without one) and one key per example (`key`)."""
        target_key, example_key = jax.random.split(key)
        size = batch["obs"].shape[0]
        alpha = self.temperature(extra)
        return {
            **batch,
            "target": self.critic_targets(params, targets, extra, batch, target_key),
            "alpha": jnp.broadcast_to(alpha, (size,)),
            "key": jax.random.split(example_key, size),
        }

    def per_example_losses(self, params: dict[str, PyTree], batch: dict) -> dict[str, jax.Array]:
        """Each network's own loss per example [B] of a `probe_batch`: the twin TD errors of
        the critic, the actor's objective at the critic (its key: the first example's)."""
        errors = self.twin_td_errors(params["critic"], batch, batch["target"])
        actor = self.actor_objective(params, batch["alpha"][0], batch["obs"], batch["key"][0])
        return {"critic": errors[0] + errors[1], "actor": actor}

    def value_estimates(
        self, params: dict[str, PyTree], batch: dict
    ) -> dict[str, tuple[jax.Array, jax.Array]]:
        """{critic: (both heads' Q estimates [2B] at the batch's actions, targets [B])} of a
        `probe_batch`."""
        q1, q2 = self.networks["critic"].apply(params["critic"], batch["obs"], batch["action"])
        return {"critic": (jnp.concatenate([q1, q2]), batch["target"])}

    def temperature(self, extra: PyTree) -> jax.Array:
        """The entropy temperature alpha (SAC's), 0 for agents without one."""
        return jnp.zeros((), jnp.float32)

    def critic_targets(
        self, params: dict[str, PyTree], targets: dict[str, PyTree], extra: PyTree, batch, key
    ) -> jax.Array:
        """The critic's regression targets [B] on a batch, as an update draws them with `key`."""
        raise NotImplementedError

    def actor_objective(
        self, params: dict[str, PyTree], alpha: jax.Array, obs: jax.Array, key: jax.Array
    ) -> jax.Array:
        """The actor's loss per example [B] at `obs` (its mean is what an update minimises)."""
        raise NotImplementedError

    # ---- losses shared by SAC and TD3 -------------------------------------------------------
    def critic_target(self, critic_target_params: PyTree, batch: dict, next_action, bonus=0.0):
        """r + discount * (min of the twin target Qs at (s', a') + bonus), without gradient."""
        q1, q2 = self.networks["critic"].apply(critic_target_params, batch["next_obs"], next_action)
        target = batch["return"] + batch["discount"] * (jnp.minimum(q1, q2) + bonus)
        return jax.lax.stop_gradient(target)

    def twin_td_errors(self, critic_params: PyTree, batch: dict, target: jax.Array):
        """Both critics' squared TD errors per example, ([B], [B])."""
        q1, q2 = self.networks["critic"].apply(critic_params, batch["obs"], batch["action"])
        return (q1 - target) ** 2, (q2 - target) ** 2

    def twin_critic_loss(self, critic_params: PyTree, batch: dict, target: jax.Array):
        """Sum of both critics' mean squared TD errors (Fujimoto et al. 2018)."""
        errors1, errors2 = self.twin_td_errors(critic_params, batch, target)
        return jnp.mean(errors1) + jnp.mean(errors2)


def weighted(value: jax.Array, weight: float | jax.Array = 1.0) -> tuple[jax.Array, jax.Array]:
    """A loss entry for `Losses`."""
    return jnp.asarray(value, jnp.float32), jnp.asarray(weight, jnp.float32)
