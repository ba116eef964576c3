"""Actor and critic networks of the actor-critic agents (SAC, TD3, PPO), each scalable in width.

Every network is an `MLP` body named `encoder` and one output layer named `head`; the twin
critic holds two such networks, `q1` and `q2`. Sparsity works per network, and `head` is the
output layer that DS-TD3 keeps dense (in both critics). The hidden activations recorded for
`sparserl.analysis` are the `encoder`'s (the twin critic's: `q1`'s, then `q2`'s).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from sparserl.nets.torsos import MLP

DEFAULT_HIDDEN = (256, 256)  # SAC (Haarnoja et al. 2018), TD3 (Fujimoto et al. 2018), DS-TD3


class GaussianActor(nn.Module):
    """Mean and log standard deviation of a diagonal Gaussian over actions.

    SAC squashes a sample with tanh and learns a state-dependent std (Haarnoja et al. 2018);
    PPO usually keeps a free, state-independent log-std vector (`state_dependent_std=False`).
    """

    action_dim: int
    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    width: float = 1.0
    activation: str = "relu"
    state_dependent_std: bool = True

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = MLP(self.hidden, self.width, self.activation, name="encoder")(obs)
        if self.state_dependent_std:
            out = nn.Dense(2 * self.action_dim, name="head")(x)
            return out[:, : self.action_dim], out[:, self.action_dim :]
        mean = nn.Dense(self.action_dim, name="head")(x)
        log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
        return mean, jnp.broadcast_to(log_std, mean.shape)


class DeterministicActor(nn.Module):
    """TD3's policy: tanh of a linear head, an action in [-1, 1] per dimension."""

    action_dim: int
    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    width: float = 1.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden, self.width, name="encoder")(obs)
        return jnp.tanh(nn.Dense(self.action_dim, name="head")(x))


class CategoricalActor(nn.Module):
    """Logits over discrete actions (PPO on discrete-action environments)."""

    num_actions: int
    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    width: float = 1.0
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden, self.width, self.activation, name="encoder")(obs)
        return nn.Dense(self.num_actions, name="head")(x)


class ValueCritic(nn.Module):
    """State value V(s) (PPO), shape [B]."""

    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    width: float = 1.0
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden, self.width, self.activation, name="encoder")(obs)
        return nn.Dense(1, name="head")(x)[:, 0]


class QCritic(nn.Module):
    """Action value Q(s, a) of a continuous action, shape [B]."""

    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    width: float = 1.0

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs.reshape(obs.shape[0], -1), action], axis=-1)
        x = MLP(self.hidden, self.width, name="encoder")(x)
        return nn.Dense(1, name="head")(x)[:, 0]


class TwinCritic(nn.Module):
    """Two independent Q-networks `q1`, `q2` (clipped double Q, Fujimoto et al. 2018)."""

    hidden: tuple[int, ...] = DEFAULT_HIDDEN
    width: float = 1.0

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        q1 = QCritic(self.hidden, self.width, name="q1")(obs, action)
        q2 = QCritic(self.hidden, self.width, name="q2")(obs, action)
        return q1, q2
