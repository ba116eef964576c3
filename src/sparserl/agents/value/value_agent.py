"""What the value-based agents share: the Q-network for an environment, greedy values,
ε-greedy."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from sparserl.agents.errors import AgentConfigError
from sparserl.agents.value import losses
from sparserl.agents.value.config import ValueConfig
from sparserl.nets import make_q_network

if TYPE_CHECKING:  # importing sparserl.envs would load every simulator
    from sparserl.envs import JaxEnv


@dataclasses.dataclass(frozen=True)
class NetworkPass:
    """One evaluation of the network per example in an update, for FLOP counting: its
    one-example inputs, and whether the loss is differentiated through it."""

    inputs: tuple[jax.Array, ...]
    differentiated: bool


@dataclasses.dataclass(frozen=True)
class ValueAgent:
    """A value-based agent: a config plus its per-example loss; the loop does the rest.

    `apply(params, *inputs)` runs the agent's network on the inputs `example_inputs`
    describes. Agents that sample (IQN's quantile fractions) draw from the `key` given to
    `q_values` and `per_example_loss`; the others ignore it.
    """

    config: ValueConfig
    name: ClassVar[str] = "value"
    family: ClassVar[str] = "value"  # trained by the value loops (JAX envs, Atari)
    network_names: ClassVar[tuple[str, ...]] = ("online",)
    num_atoms: ClassVar[int] = 1
    quantile_embedding_dim: ClassVar[int | None] = None

    @property
    def prioritized(self) -> bool:
        return False

    @classmethod
    def check_env(cls, env: JaxEnv) -> None:
        """Refuse environments this agent cannot act in (continuous actions)."""
        if not env.discrete:
            raise AgentConfigError(
                f"{cls.name} needs discrete actions but {env.env_id} has continuous actions "
                f"of shape {env.action_shape}; use sac or td3 for it"
            )

    @classmethod
    def for_env(cls, config: ValueConfig, env: JaxEnv) -> ValueAgent:
        """The agent with `config` for `env` (refused if it cannot act there)."""
        cls.check_env(env)
        return cls(config)

    def network(self, env: JaxEnv) -> nn.Module:
        """The Q-network for this environment (its default body unless the config names one)."""
        self.check_env(env)
        cfg = self.config
        return make_q_network(
            cfg.torso or env.spec.torso,
            env.num_actions,
            width=cfg.width,
            hidden=cfg.hidden,
            num_atoms=self.num_atoms,
            dueling=cfg.dueling,
            input_scale=env.spec.input_scale,
            obs_bounds=env.spec.obs_bounds,
            quantile_embedding_dim=self.quantile_embedding_dim,
        )

    def example_inputs(self, obs_shape: tuple[int, ...]) -> tuple[jax.Array, ...]:
        """One-example network inputs, for initialisation and FLOP accounting."""
        return (jnp.zeros((1, *obs_shape), jnp.float32),)

    def update_passes(self, obs_shape: tuple[int, ...]) -> list[NetworkPass] | None:
        """The network evaluations of one update when they are to be counted one by one; None
        counts one differentiated pass on the acting inputs (DQN, Rainbow: the target pass
        on s' is left out, as in the FLOP counts of RigL and Graesser et al. 2022)."""
        return None

    def q_values(self, apply: Any, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        """Q-values [B, A] of observations [B, ...], for acting."""
        return apply(params, obs)

    def per_example_loss(
        self, apply: Any, params: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        """Loss of each example of an n-step batch (obs, action, return, next_obs, discount)."""
        raise NotImplementedError

    def q_targets(
        self, apply: Any, params: Any, target_params: Any, batch: dict, key: jax.Array
    ) -> jax.Array:
        """The bootstrapped value target of each example, r + discount * Q_target(s', a*) with
        a* greedy for the target network's Q (the online one with double Q): DQN's TD target,
        and for distributional agents the mean of theirs (the probe's Q-target variance)."""
        cfg = self.config
        next_target = self.q_values(apply, target_params, batch["next_obs"], key)
        next_online = self.q_values(apply, params, batch["next_obs"], key) if cfg.double_q else None
        next_actions = losses.greedy_next_actions(next_online, next_target, cfg.double_q)
        return losses.td_targets(batch["return"], batch["discount"], next_target, next_actions)

    def network_inputs(self, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, ...]:
        """The network's inputs at observations `obs` [B, ...] as acting feeds it (the probe
        reads its hidden activations there)."""
        return (obs,)


def epsilon_greedy(key: jax.Array, q_values: jax.Array, epsilon: jax.Array) -> jax.Array:
    """A random action with probability ε, else the greedy one (ties: lowest index)."""
    explore_key, action_key = jax.random.split(key)
    random_action = jax.random.randint(action_key, (), 0, q_values.shape[-1])
    explore = jax.random.uniform(explore_key) < epsilon
    return jnp.where(explore, random_action, jnp.argmax(q_values, axis=-1)).astype(jnp.int32)


def linearly_decaying_epsilon(
    step: jax.Array, decay_steps: int, warmup_steps: int, final: float
) -> jax.Array:
    """Dopamine's schedule: 1 during warm-up, then linear to `final` over `decay_steps`."""
    steps_left = decay_steps + warmup_steps - step
    bonus = (1.0 - final) * steps_left / max(decay_steps, 1)
    return final + jnp.clip(bonus, 0.0, 1.0 - final)
