"""sparserl.analysis: measures that explain what sparsity does to a network and its training.

Pure functions on arrays and pytrees, usable on any Flax model, jit- and vmap-compatible:
dormant neurons (Sokar et al. 2023), srank (Kumar et al. 2021), per-example gradients and their
signal-to-noise ratio (Graesser et al. 2022) and cosine matrix (Lyle et al. 2023; Obando-Ceron
et al. 2024), Q statistics, parameter norm and mask turnover; `hidden_activations` reads the
per-layer activations that sparserl's networks record. `probe_network` takes them all on one
network and probe batch, as the training loops do at their evaluations.
"""

from sparserl.analysis.activations import hidden_activations
from sparserl.analysis.measures import (
    dormant_fraction,
    gradient_cosine_matrix,
    gradient_snr,
    mask_turnover,
    parameter_norm,
    per_example_gradients,
    q_statistics,
    srank,
)
from sparserl.analysis.probe import ProbedNetwork, probe_network

__all__ = [
    "ProbedNetwork",
    "dormant_fraction",
    "gradient_cosine_matrix",
    "gradient_snr",
    "hidden_activations",
    "mask_turnover",
    "parameter_norm",
    "per_example_gradients",
    "probe_network",
    "q_statistics",
    "srank",
]
