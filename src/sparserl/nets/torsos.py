"""Feature extractors ("torsos") of the value-based agents, each scalable in width.

Every torso takes a batch `[B, *obs_shape]`, casts it to float32, uses ReLU throughout and
returns features `[B, F]`. `width` multiplies the channels/units of every layer, which is how
parameter-matched dense baselines are built (Graesser et al. 2022). The Nature CNN and IMPALA
torsos (`ConvTorso`) also expose their conv part and their dense part, which IQN puts on either
side of its τ embedding as Dopamine does.

Every torso records the post-ReLU output of each hidden layer with `sow_activation`, in forward
order, for `sparserl.analysis.hidden_activations` (dormant neurons, srank). Recording is off
unless `apply` is called with the collection mutable, so params, outputs and FLOPs are unchanged.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from sparserl.sparsity.distributions import round_half_up


def check_width(width: float) -> float:
    """The width if it is a positive number; a ValueError naming it otherwise."""
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    return width


def scale_units(n: int, width: float) -> int:
    """Units of a layer of `n` units at `width`: round half up, at least 1."""
    return max(1, round_half_up(n * check_width(width)))


ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh}

ACTIVATIONS_COLLECTION = "intermediates"  # Flax's collection for sown values
ACTIVATIONS_NAME = "activations"  # the name every hidden layer's output is sown under


def sow_activation(module: nn.Module, x: jax.Array) -> jax.Array:
    """Sow `x`, a hidden layer's post-activation output, and return it unchanged.

    Skipped while initialising, so `init` still returns the params alone; during `apply` it
    records only when the collection is mutable (`sparserl.analysis.hidden_activations`).
    """
    if not module.is_initializing():
        module.sow(ACTIVATIONS_COLLECTION, ACTIVATIONS_NAME, x)
    return x


def _flatten(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1)


class MLP(nn.Module):
    """Fully connected torso for vector observations; trailing dims are flattened."""

    hidden: tuple[int, ...] = (512, 512)  # Graesser et al. 2022 classic control (Dopamine)
    width: float = 1.0
    activation: str = "relu"  # "relu" or "tanh" (PPO's usual choice)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        x = _flatten(jnp.asarray(x, jnp.float32))
        for i, units in enumerate(self.hidden):
            x = act(nn.Dense(scale_units(units, self.width), name=f"dense_{i}")(x))
            sow_activation(self, x)
        return x


class ConvTorso(nn.Module):
    """A conv stack whose flattened output feeds dense layers, each part callable on its own:
    `features` gives the conv output `[B, F]`, `hidden` the dense layers on `[..., F]`.

    Dopamine's Atari IQN modulates the conv output by the τ embedding and puts the dense layer
    after the product, so `ImplicitQuantileNetwork` needs the two parts apart.
    """

    def features(self, x: jax.Array) -> jax.Array:
        """Flattened output of the conv stack for frames `[B, H, W, C]`."""
        raise NotImplementedError

    def hidden(self, features: jax.Array) -> jax.Array:
        """The dense layers (with their ReLU) on conv features `[..., F]`."""
        raise NotImplementedError

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.hidden(self.features(x))


class NatureCNN(ConvTorso):
    """Mnih et al. 2015 DQN torso for [B, H, W, C] frames (84x84x4 on Atari).

    Convolutions use 'VALID' padding like the original, so 84x84 maps to 20x20, 9x9, 7x7.
    """

    width: float = 1.0

    def setup(self) -> None:
        # (channels, kernel, stride) of Mnih et al. 2015, Methods "Model architecture"
        self.convs = [
            nn.Conv(
                scale_units(channels, self.width),
                (kernel, kernel),
                strides=(stride, stride),
                padding="VALID",
                name=f"conv_{i}",
            )
            for i, (channels, kernel, stride) in enumerate(((32, 8, 4), (64, 4, 2), (64, 3, 1)))
        ]
        self.dense = nn.Dense(scale_units(512, self.width))  # 512 units: Mnih et al. 2015

    def features(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, jnp.float32)
        for conv in self.convs:
            x = sow_activation(self, nn.relu(conv(x)))
        return _flatten(x)

    def hidden(self, features: jax.Array) -> jax.Array:
        return sow_activation(self, nn.relu(self.dense(features)))


def _conv3x3(channels: int, name: str) -> nn.Conv:
    return nn.Conv(channels, (3, 3), strides=(1, 1), padding="SAME", name=name)


class ResidualBlock(nn.Module):
    """IMPALA residual block: x + conv(relu(conv(relu(x)))), channels preserved.

    Its two ReLU outputs, the inputs of its two convs, are the activations it records: the
    points Dopamine's ReDo measures in this block (dopamine/labs/redo/networks.py, `Stack`).
    """

    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = _conv3x3(self.channels, "conv_0")(sow_activation(self, nn.relu(x)))
        return x + _conv3x3(self.channels, "conv_1")(sow_activation(self, nn.relu(y)))


class ImpalaStack(nn.Module):
    """IMPALA stack: 3x3 conv, 3x3 max-pool with stride 2, then two residual blocks."""

    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = _conv3x3(self.channels, "conv")(x)
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
        for i in range(2):  # two residual blocks per stack: Espeholt et al. 2018, Fig. 3
            x = ResidualBlock(self.channels, name=f"block_{i}")(x)
        return x


class ImpalaResNet(ConvTorso):
    """IMPALA ResNet torso (Espeholt et al. 2018), as in the Dopamine and rigl code.

    Table 4 of Obando-Ceron et al. 2024 lists channels 32, 64, 64 for the ResNet, the same
    numbers as its Nature-CNN column (very likely copied from it); we follow the 16, 32, 32 of
    Espeholt et al. and of the Dopamine/rigl code that paper's experiments ran on. `channels`
    is configurable.

    Recorded activations follow Dopamine's ReDo (dopamine/labs/redo/networks.py): the two
    ReLU outputs inside each residual block (4 per stack) and the dense layer's; the ReLU
    of the last stack's output, flattened into the dense layer, is not a layer of its own
    there and is not recorded here either.
    """

    width: float = 1.0
    channels: tuple[int, ...] = (16, 32, 32)  # Espeholt et al. 2018, Fig. 3
    dense: int = 256  # Espeholt et al. 2018, Fig. 3

    def setup(self) -> None:
        self.stacks = [
            ImpalaStack(scale_units(channels, self.width), name=f"stack_{i}")
            for i, channels in enumerate(self.channels)
        ]
        self.dense_layer = nn.Dense(scale_units(self.dense, self.width), name="dense")

    def features(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, jnp.float32)
        for stack in self.stacks:
            x = stack(x)
        return _flatten(nn.relu(x))

    def hidden(self, features: jax.Array) -> jax.Array:
        return sow_activation(self, nn.relu(self.dense_layer(features)))


class MinAtarCNN(nn.Module):
    """Young & Tian 2019 MinAtar torso for [B, 10, 10, C] observations.

    Nature CNN's 8x8 stride-4 first kernel does not fit a 10x10 grid; this one does.
    """

    width: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, jnp.float32)
        # 16 3x3 stride-1 filters, then 128 units: Young & Tian 2019's DQN network
        conv = nn.Conv(
            scale_units(16, self.width), (3, 3), strides=(1, 1), padding="VALID", name="conv"
        )
        x = _flatten(sow_activation(self, nn.relu(conv(x))))
        dense = nn.Dense(scale_units(128, self.width), name="dense")
        return sow_activation(self, nn.relu(dense(x)))
