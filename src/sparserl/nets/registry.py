"""Torsos by name, and the factory that builds a Q-network from a config."""

from __future__ import annotations

import flax.linen as nn

from sparserl.nets.heads import QNetwork
from sparserl.nets.iqn import ImplicitQuantileNetwork
from sparserl.nets.torsos import MLP, ImpalaResNet, MinAtarCNN, NatureCNN, check_width

TORSOS: dict[str, type[nn.Module]] = {
    "mlp": MLP,
    "nature_cnn": NatureCNN,
    "impala": ImpalaResNet,
    "minatar_cnn": MinAtarCNN,
}


def make_q_network(
    torso: str,
    num_actions: int,
    *,
    width: float = 1.0,
    hidden: tuple[int, ...] | None = None,
    num_atoms: int = 1,
    dueling: bool = False,
    input_scale: float = 1.0,
    obs_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    quantile_embedding_dim: int | None = None,
) -> QNetwork | ImplicitQuantileNetwork:
    """A QNetwork on the named torso; `hidden` overrides the MLP's layer sizes only;
    `obs_bounds = (low, high)` rescales observations from that box to [-1, 1].
    With `quantile_embedding_dim`, an ImplicitQuantileNetwork with that many cosines."""
    if torso not in TORSOS:
        raise ValueError(f"unknown torso {torso!r}; choose one of {list(TORSOS)}")
    check_width(width)
    options = {"width": width}
    if hidden is not None:
        if torso != "mlp":
            raise ValueError(f"hidden is only valid for the 'mlp' torso, not {torso!r}")
        options["hidden"] = tuple(hidden)
    common = {
        "dueling": dueling,
        "input_scale": input_scale,
        "obs_low": None if obs_bounds is None else tuple(obs_bounds[0]),
        "obs_high": None if obs_bounds is None else tuple(obs_bounds[1]),
    }
    encoder = TORSOS[torso](**options)
    if quantile_embedding_dim is None:
        return QNetwork(encoder, num_actions, num_atoms=num_atoms, **common)
    if num_atoms != 1:
        raise ValueError(f"an implicit quantile network has no atoms, got num_atoms={num_atoms}")
    return ImplicitQuantileNetwork(
        encoder, num_actions, embedding_dim=quantile_embedding_dim, **common
    )
