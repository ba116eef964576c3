"""Q-value heads: plain, dueling and distributional (C51) outputs on top of any torso."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def scaled_observations(
    obs: jax.Array,
    input_scale: float,
    obs_low: tuple[float, ...] | None,
    obs_high: tuple[float, ...] | None,
) -> jax.Array:
    """float32 observations times `input_scale`, mapped from [obs_low, obs_high] to [-1, 1]
    when both bounds are given (Dopamine's classic-control nets)."""
    x = jnp.asarray(obs, jnp.float32) * input_scale
    if obs_low is not None and obs_high is not None:
        low, high = jnp.asarray(obs_low), jnp.asarray(obs_high)
        x = 2.0 * (x - low) / (high - low) - 1.0
    return x


def q_head(features: jax.Array, num_actions: int, num_atoms: int, dueling: bool) -> jax.Array:
    """The output layer, named `head`, on features `[..., F]`: Q-values `[..., A]`, or atom
    logits `[..., A, num_atoms]` when `num_atoms > 1`. Call it inside a compact method.

    With `dueling` (Wang et al. 2016), the value and advantage streams are the two parts of
    that one layer (the same maths as two layers on the same features).
    """
    streams = num_actions + (1 if dueling else 0)
    out = nn.Dense(streams * num_atoms, name="head")(features)
    out = out.reshape(*features.shape[:-1], streams, num_atoms)
    if dueling:
        value, advantage = out[..., :1, :], out[..., 1:, :]
        out = value + advantage - advantage.mean(axis=-2, keepdims=True)
    return out[..., 0] if num_atoms == 1 else out


class QNetwork(nn.Module):
    """A torso followed by one Q head layer, the output layer.

    Takes a batch `[B, *obs_shape]` and returns Q-values `[B, num_actions]` when
    `num_atoms == 1`, else per-action atom logits `[B, num_actions, num_atoms]` (C51,
    Bellemare et al. 2017). Layers are named `encoder/...` then `head`: the output layer is
    last both in creation order and in the sorted order JAX transforms leave dicts in.
    """

    encoder: nn.Module
    num_actions: int
    num_atoms: int = 1  # 1: expected Q-values; C51 uses 51 (Bellemare et al. 2017)
    dueling: bool = False  # Wang et al. 2016
    input_scale: float = 1.0  # Atari frames use 1/255, as in Dopamine
    # Classic control: map [obs_low, obs_high] to [-1, 1] (Dopamine's classic-control nets)
    obs_low: tuple[float, ...] | None = None
    obs_high: tuple[float, ...] | None = None

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = scaled_observations(obs, self.input_scale, self.obs_low, self.obs_high)
        return q_head(self.encoder(x), self.num_actions, self.num_atoms, self.dueling)
