"""The implicit quantile network of IQN (Dabney et al. 2018): quantile values Z_τ(x, a) for
sampled fractions τ, from torso features modulated by a cosine embedding of τ."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from sparserl.nets.heads import q_head, scaled_observations
from sparserl.nets.torsos import ConvTorso


def cosine_basis(taus: jax.Array, dim: int) -> jax.Array:
    """cos(π i τ) for i = 1..dim: `[..., N]` fractions to `[..., N, dim]` features.

    Dabney et al. 2018 (eq. 4) sum over i = 0..n-1; Dopamine's networks use i = 1..n, whose
    first term is not a constant duplicating the bias. We follow Dopamine.
    """
    frequencies = jnp.pi * jnp.arange(1, dim + 1, dtype=jnp.float32)
    return jnp.cos(taus[..., None].astype(jnp.float32) * frequencies)


class ImplicitQuantileNetwork(nn.Module):
    """A state vector ψ(x) `[B, F]` times φ(τ) = ReLU(Dense_F(cos(π i τ))) `[B, N, F]`, then
    the rest of the network: quantile values `[B, N, num_actions]` for fractions `taus`
    `[B, N]`.

    On a `ConvTorso` (Nature CNN, IMPALA ResNet) ψ is the flattened conv output and the
    torso's dense layer comes after the product, then the output layer, as in Dopamine's
    Atari IQN (dopamine/jax/networks.py). On the other torsos (MLP, MinAtar CNN) ψ is the
    output of the whole torso and the output layer follows the product, as in the
    classic-control and MinAtar IQN of Ceron & Castro 2021 (Revisiting Rainbow, on Dopamine).

    Layers are named `encoder/...`, `cosine_embedding` (the `dim x F` kernel of φ, a prunable
    layer like any other) and `head`: the output layer is last both in creation order and in
    sorted order, as in `QNetwork`, so the sparsity engine's output-layer conventions hold.

    The recorded activations (`sparserl.analysis.hidden_activations`) are the torso's: φ(τ)
    embeds the sampled fractions, not the state, so it is not recorded, and the last recorded
    activation stays the state representation: ψ `[B, F]` on an MLP or MinAtar torso, the
    dense layer after the product `[B, N, F]` on a conv torso.
    """

    encoder: nn.Module
    num_actions: int
    embedding_dim: int = 64  # n = 64 cosines (Dabney et al. 2018, eq. 4)
    dueling: bool = False  # Wang et al. 2016
    input_scale: float = 1.0
    obs_low: tuple[float, ...] | None = None
    obs_high: tuple[float, ...] | None = None

    @nn.compact
    def __call__(self, obs: jax.Array, taus: jax.Array) -> jax.Array:
        x = scaled_observations(obs, self.input_scale, self.obs_low, self.obs_high)
        split = isinstance(self.encoder, ConvTorso)
        state = self.encoder.features(x) if split else self.encoder(x)
        embedding = nn.Dense(state.shape[-1], name="cosine_embedding")(
            cosine_basis(taus, self.embedding_dim)
        )
        modulated = state[:, None, :] * nn.relu(embedding)
        if split:
            modulated = self.encoder.hidden(modulated)
        return q_head(modulated, self.num_actions, 1, self.dueling)
