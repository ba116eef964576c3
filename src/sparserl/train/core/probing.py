"""What every loop family shares to run the in-loop probe (`analysis.probe`): its settings and
schedule (`Diagnostics`: which evaluations probe, which save gradient cosine matrices), the
probe's own random stream, and the conditional probe of one run's networks."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from sparserl.analysis.probe import ProbedNetwork, probe_network
from sparserl.experiment.plan import OFF_POLICY, ON_POLICY, Plan
from sparserl.types import PyTree

# The probe's key is fold_in(run key, PROBE_STREAM) at the probe: training splits the run key
# and never folds this value in, so the probe draws nothing training would draw.
PROBE_STREAM = 0x70726F62  # "prob"
DIAGNOSTICS_KEY = "diagnostics"  # chunk metrics: {network: {measure key: [R]}}
GRADIENT_COSINE_KEY = "gradient_cosine"  # chunk metrics: {network: [R, N, N]}


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    """A program's probe settings: probe every `every`-th evaluation once learning has started
    (env step `learning_starts`), on `batch_size` examples; a run has `chunks` evaluations,
    `interval` env steps apart."""

    every: int
    batch_size: int
    interval: int
    chunks: int
    learning_starts: int

    @functools.cached_property
    def probes(self) -> tuple[int, ...]:
        """The chunks (evaluations, from 0) that end with a probe."""
        return tuple(
            c
            for c in range(self.chunks)
            if (c + 1) * self.interval > self.learning_starts and (c + 1) % self.every == 0
        )

    @functools.cached_property
    def cosines(self) -> tuple[int, ...]:
        """The probes that also save gradient cosine matrices: the first after learning
        starts, the middle one and the last (Obando-Ceron et al. 2024, Fig. 14, show one
        point of training; three show how the structure changes)."""
        probes = self.probes
        return tuple(sorted({probes[0], probes[len(probes) // 2], probes[-1]})) if probes else ()


def diagnostics_of(plan: Plan) -> Diagnostics | None:
    """The probe settings of a plan, or None with diagnostics off (`diagnostics_every` 0). The
    default probe batch is the agent's training minibatch: Graesser et al. 2022 (Sec. on
    signal-to-noise) take the SNR of gradients over a mini-batch."""
    spec = plan.spec
    if not spec.diagnostics_every:
        return None
    cfg = plan.agent.config
    if plan.family == ON_POLICY:
        default, starts = cfg.minibatch_size, 0
    elif plan.family == OFF_POLICY:
        default, starts = cfg.batch_size, cfg.learning_starts
    else:
        default, starts = cfg.batch_size, cfg.first_learning_iteration() * cfg.update_schedule()[0]
    return Diagnostics(
        every=spec.diagnostics_every,
        batch_size=spec.diagnostics_batch or default,
        interval=plan.eval_interval,
        chunks=spec.steps // plan.eval_interval,
        learning_starts=starts,
    )


def compiled_diagnostics(plan: Plan) -> Diagnostics | None:
    """The probe a plan's programs compile: `diagnostics_of(plan)`, or None when no evaluation
    of its runs probes (a run of fewer than `diagnostics_every` evaluations after learning
    starts), so that such runs do not compile the probe (its per-example gradients double a
    small program's compile time)."""
    diagnostics = diagnostics_of(plan)
    return diagnostics if diagnostics is not None and diagnostics.probes else None


def probe_flags(diagnostics: Diagnostics | None, chunk: int) -> tuple[bool, bool]:
    """(probe, save gradient cosine matrices) at the end of chunk `chunk`."""
    if diagnostics is None:
        return False, False
    return chunk in diagnostics.probes, chunk in diagnostics.cosines


def probe_key(run_key: jax.Array) -> jax.Array:
    """The probe's key of a run at a probe (see PROBE_STREAM)."""
    return jax.random.fold_in(run_key, PROBE_STREAM)


def probe_if(
    probe: jax.Array,
    cosine: jax.Array,
    describe: Callable[[], tuple[dict[str, ProbedNetwork], dict]],
    previous_masks: dict[str, PyTree],
) -> tuple[dict[str, Any], dict[str, PyTree]]:
    """One run's probe where the traced `probe` is true: `describe()` gives its networks and
    the probe batch. Returns ({DIAGNOSTICS_KEY: {network: measures}, GRADIENT_COSINE_KEY:
    {network: matrix}} (zeros where it did not probe), the masks the next probe compares with:
    the current ones after a probe, else `previous_masks`)."""

    def run(_):
        networks, batch = describe()
        measures, matrices = {}, {}
        for name, network in networks.items():
            measures[name], matrices[name] = probe_network(
                network, previous_masks[name], batch, cosine
            )
        masks = {name: network.masks for name, network in networks.items()}
        return {DIAGNOSTICS_KEY: measures, GRADIENT_COSINE_KEY: matrices}, masks

    def skip(_):
        shapes = jax.eval_shape(run, None)[0]
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes), previous_masks

    return jax.lax.cond(probe, run, skip, None)


def probed_metrics(metrics: dict[str, Any], probe: bool, cosine: bool) -> dict[str, Any]:
    """A chunk's metrics without the probe's entries where it did not probe (or save cosine
    matrices): what the writer sees is only what was measured."""
    drop = {DIAGNOSTICS_KEY: not probe, GRADIENT_COSINE_KEY: not cosine}
    return {k: v for k, v in metrics.items() if not drop.get(k, False)}
