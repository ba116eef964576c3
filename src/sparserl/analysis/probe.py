"""The in-loop probe: every analysis measure of one network on one probe batch, written once for
every training loop. A program describes each of its networks (`ProbedNetwork`) and calls
`probe_network` inside its jitted chunk, vmapped over runs; the keys of the result are the
run-directory schema's (`rundir.schema.diagnostic_key`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

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
from sparserl.rundir.schema import (
    DORMANT_FRACTION,
    GRADIENT_SNR,
    MASK_TURNOVER,
    PARAMETER_NORM,
    SRANK,
    diagnostic_key,
)
from sparserl.types import PyTree


@dataclasses.dataclass(frozen=True)
class ProbedNetwork:
    """One network of one run as the probe sees it: its module and weights, its masks (None
    leaves: dense), its inputs on the probe batch, its own loss per example and, for a Q
    network or critic, its value estimates [B, ...] and their targets [B]."""

    module: Any
    params: PyTree
    masks: PyTree
    inputs: tuple[jax.Array, ...]
    loss: Callable[[PyTree, dict], jax.Array]  # (params, a batch of one example) -> scalar
    values: tuple[jax.Array, jax.Array] | None = None


def probe_network(
    network: ProbedNetwork, previous_masks: PyTree, batch: dict, cosine: jax.Array
) -> tuple[dict[str, jax.Array], jax.Array]:
    """({key: scalar} of every measure, the [N, N] gradient cosine matrix) of `network` on
    `batch` (N examples): dormant fraction (all hidden layers and each), srank of the last
    hidden layer, gradient SNR of its per-example gradients on its active weights, parameter
    norm, mask turnover per layer since `previous_masks`, Q statistics if it has values. The
    cosine matrix is computed only where the traced `cosine` is true (zeros elsewhere)."""
    activations = hidden_activations(network.module, network.params, *network.inputs)
    features = activations[-1].reshape(activations[-1].shape[0], -1)
    dormant, per_layer = dormant_fraction(activations)
    grads = per_example_gradients(network.loss, network.params, batch)
    measures = {
        diagnostic_key(DORMANT_FRACTION): dormant,
        **{diagnostic_key(DORMANT_FRACTION, i): f for i, f in enumerate(per_layer)},
        diagnostic_key(SRANK): srank(features),
        diagnostic_key(GRADIENT_SNR): gradient_snr(grads, network.masks),
        diagnostic_key(PARAMETER_NORM): parameter_norm(network.params, network.masks),
    }
    turnover = mask_turnover(previous_masks, network.masks)
    measures.update({diagnostic_key(MASK_TURNOVER, k): v for k, v in turnover.items()})
    if network.values is not None:
        measures.update(q_statistics(*network.values))
    size = jax.tree.leaves(batch)[0].shape[0]
    matrix = jax.lax.cond(
        cosine,
        lambda g: gradient_cosine_matrix(g, network.masks).astype(jnp.float32),
        lambda g: jnp.zeros((size, size), jnp.float32),
        grads,
    )
    return measures, matrix
