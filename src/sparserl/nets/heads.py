"""Q-value heads: plain, dueling and distributional (C51) outputs on top of any torso."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class QNetwork(nn.Module):
    """A torso followed by one Q head layer, the output layer.

    Takes a batch `[B, *obs_shape]` and returns Q-values `[B, num_actions]` when
    `num_atoms == 1`, else per-action atom logits `[B, num_actions, num_atoms]` (C51,
    Bellemare et al. 2017). Layers are named `encoder/...` then `head`: the output layer is
    last both in creation order and in the sorted order JAX transforms leave dicts in. With
    `dueling`, the value and advantage streams are the two parts of that one head layer
    (the same maths as two layers on the same features), so it is still one output layer.
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
        x = jnp.asarray(obs, jnp.float32) * self.input_scale
        if self.obs_low is not None and self.obs_high is not None:
            low, high = jnp.asarray(self.obs_low), jnp.asarray(self.obs_high)
            x = 2.0 * (x - low) / (high - low) - 1.0
        features = self.encoder(x)
        batch = features.shape[0]
        streams = self.num_actions + (1 if self.dueling else 0)
        out = nn.Dense(streams * self.num_atoms, name="head")(features)
        out = out.reshape(batch, streams, self.num_atoms)
        if self.dueling:
            value, advantage = out[:, :1], out[:, 1:]
            out = value + advantage - advantage.mean(axis=1, keepdims=True)
        return out[..., 0] if self.num_atoms == 1 else out
