"""sparserl.nets: the Q-networks of the value-based agents (DQN, Rainbow, IQN).

Torsos (MLP, Nature CNN, IMPALA ResNet, MinAtar CNN) scale every layer by `width`; `QNetwork`
adds a plain, dueling or C51 head and `ImplicitQuantileNetwork` a cosine τ embedding and a
quantile head, each named so that the head is the last kernel, which the sparsity engine
treats as the output layer. `width` also finds parameter-matched widths.
"""

from sparserl.nets.heads import QNetwork
from sparserl.nets.iqn import ImplicitQuantileNetwork, cosine_basis
from sparserl.nets.registry import TORSOS, make_q_network
from sparserl.nets.torsos import (
    MLP,
    ImpalaResNet,
    ImpalaStack,
    MinAtarCNN,
    NatureCNN,
    ResidualBlock,
    scale_units,
)
from sparserl.nets.width import matched_width, parameter_count, width_for_parameter_count

__all__ = [
    "MLP",
    "TORSOS",
    "ImpalaResNet",
    "ImplicitQuantileNetwork",
    "ImpalaStack",
    "MinAtarCNN",
    "NatureCNN",
    "QNetwork",
    "ResidualBlock",
    "cosine_basis",
    "make_q_network",
    "matched_width",
    "parameter_count",
    "scale_units",
    "width_for_parameter_count",
]
