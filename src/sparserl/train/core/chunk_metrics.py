"""The network metrics of a chunk for any actor-critic program: per-layer counts of the online
and target networks, and the mean losses since the last chunk (summed per update by
`add_losses`, started again by `chunk_metrics`)."""

from __future__ import annotations

from typing import Any, TypeVar

import jax
import jax.numpy as jnp

from sparserl.train.core.networks import weight_counts

Runs = TypeVar("Runs")  # batched runs with `nets`, `loss_sums` and `loss_weights`


def add_losses(run: Runs, losses: dict[str, tuple[jax.Array, jax.Array]]) -> Runs:
    """One run with an update's `losses` ({name: (value, weight)}) added to its sums, for the
    chunk's weighted means."""
    sums = {n: run.loss_sums[n] + v * w for n, (v, w) in losses.items()}
    weights = {n: run.loss_weights[n] + w for n, (_, w) in losses.items()}
    return run.replace(loss_sums=sums, loss_weights=weights)


def chunk_metrics(runs: Runs) -> tuple[Runs, dict[str, Any]]:
    """(`runs` with their loss sums reset, {"losses", "online", "target"}) for runs batched
    on axis 0; "target" is empty when no network has a target."""

    def counts(run):
        online, target = {}, {}
        for name, net in run.nets.items():
            c = weight_counts(net.params, net.sparse.masks, f"{name}/")
            online = {k: {**online.get(k, {}), **v} for k, v in c.items()}
            if net.target is not None:
                c = weight_counts(net.target, net.sparse.masks, f"{name}/")
                target = {k: {**target.get(k, {}), **v} for k, v in c.items()}
        return online, target

    online, target = jax.vmap(counts)(runs)
    losses = {n: runs.loss_sums[n] / jnp.maximum(runs.loss_weights[n], 1.0) for n in runs.loss_sums}
    zeros = jax.tree.map(jnp.zeros_like, runs.loss_sums)
    runs = runs.replace(loss_sums=zeros, loss_weights=zeros)
    return runs, {"losses": losses, "online": online, "target": target}
