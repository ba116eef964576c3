"""sparserl.nets: the Flax networks of every agent, each scalable in width.

Value agents (DQN, Rainbow, IQN): torsos (MLP, Nature CNN, IMPALA ResNet, MinAtar CNN) with a
plain, dueling or C51 head (`QNetwork`) or a cosine τ embedding and a quantile head
(`ImplicitQuantileNetwork`). Actor-critic agents (SAC, TD3, PPO): MLP actors and (twin)
critics (`actor_critic`). Every network names its head as its last kernel, which the sparsity
engine treats as the output layer; `width` counts parameters and finds parameter-matched
widths.
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
