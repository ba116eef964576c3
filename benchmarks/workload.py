"""The benchmarks' shared workload: the issue's MLP 4 -> 256 -> 256 -> 2 at batch 128."""

import flax.linen as nn
import jax
import jax.numpy as jnp

BATCH = 128


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        for h in (256, 256):
            x = nn.relu(nn.Dense(h)(x))
        return nn.Dense(2)(x)


def regression_batch() -> tuple[jax.Array, jax.Array]:
    """A fixed batch of a small nonlinear regression problem."""
    x = jax.random.normal(jax.random.key(1), (BATCH, 4))
    return x, jnp.stack([x[:, 0] * x[:, 1], jnp.sin(x[:, 2])], axis=1)
