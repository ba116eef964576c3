"""Observation-noise robustness of a trained policy (Graesser et al. 2022, "Are sparse networks
robust to noise?", Fig. 6): the evaluation return of the saved networks when every observation
the policy receives carries N(0, σ) noise, for each σ of a list.

Two rules, by what the observation is:
- Pixels (Atari, uint8 0-255): the paper's test. Independent N(0, σ) noise per pixel, rounded
  to integers, added to the pixel values before the network's normalisation and clipped to
  [0, 255] (`envs.add_pixel_noise`); each new frame is noised once, before it enters the frame
  stack, as the observation the agent stacks is the frame.
- Vectors (classic control, MuJoCo) and MinAtar: the paper has no such case. Each dimension d
  gets N(0, (σ / VECTOR_SIGMA_UNIT) * spread_d) noise, spread_d the standard deviation of
  dimension d over observations of the noise-free evaluation policy: noise relative to how
  much each feature varies in play, whatever its units, so σ = 30, the paper's largest, is
  noise as large as each feature's own spread. MinAtar's observations are binary object
  channels, not intensities: integer noise of σ ≤ 30 on a 0-255 scale rounds back to the same
  0/1 cells almost always (a flip needs |noise| > 127.5), so the pixel rule does not apply
  and each (row, column, channel) cell is treated as a vector dimension (cells that never
  change get no noise).

Noise keys fold out of the evaluation's own key (`rundir.policy.PERTURBATION_STREAM`; Atari:
the evaluation's seed), so results are reproducible and every σ meets the same episodes; at
σ = 0 the observations are untouched and the return is the noise-free evaluation's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from sparserl.envs import AtariEnv
from sparserl.rundir.policy import LoadedRun, evaluate_run
from sparserl.rundir.schema import EVAL_RETURN, NOISE_EPISODES, NOISE_SIGMA

# Graesser et al. 2022 (Fig. 6) use σ in 0, 1, ..., 30; every fifth keeps the curve's range
# and shape at a quarter of the evaluations.
DEFAULT_SIGMAS = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
# Vector rule: the σ at which the noise's standard deviation equals each dimension's spread
# (the paper's largest σ; a pixel-scale unit has no meaning for vectors).
VECTOR_SIGMA_UNIT = 30.0
PIXELS, VECTOR = "pixels", "vector"  # the two rules


class NoiseConfigError(ValueError):
    """A noise level list that is not a list of distinct finite σ >= 0; one line."""


def noise_rule(env: Any) -> str:
    """PIXELS for Atari's uint8 frames, VECTOR for every other observation (MinAtar included,
    see the module docstring)."""
    return PIXELS if isinstance(env, AtariEnv) else VECTOR


def check_sigmas(sigmas: Sequence[float]) -> tuple[float, ...]:
    """`sigmas` as a sorted tuple of floats, or NoiseConfigError naming the bad value: at least
    one, each a finite number >= 0 (pixel-value units for Atari), none twice."""
    if len(sigmas) == 0:
        raise NoiseConfigError("noise levels: give at least one σ >= 0, e.g. 0,5,10")
    for sigma in sigmas:
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
            raise NoiseConfigError(f"noise level {sigma!r} is not a number; σ must be >= 0")
        if not (math.isfinite(sigma) and sigma >= 0):
            raise NoiseConfigError(f"noise level {sigma} is not allowed; σ must be finite, >= 0")
    if len(set(sigmas)) != len(sigmas):
        raise NoiseConfigError(f"noise levels {list(sigmas)} list a σ more than once")
    return tuple(sorted(float(s) for s in sigmas))


def observation_spread(observations: np.ndarray) -> np.ndarray:
    """The standard deviation (population) of every observation dimension over a batch
    [N, ...] -> [...], float32: the vector rule's noise scale per dimension."""
    return np.std(np.asarray(observations, np.float64), axis=0).astype(np.float32)


@struct.dataclass
class VectorNoise:
    """The vector rule as a perturbation (`rundir.policy.Perturbation`): obs + N(0, 1) *
    (sigma / VECTOR_SIGMA_UNIT) * spread, independently per example and dimension; the
    observations themselves when sigma is 0."""

    sigma: jax.Array  # scalar
    spread: jax.Array  # [*obs_shape]

    def __call__(self, obs: jax.Array, key: jax.Array) -> jax.Array:
        scale = (self.sigma / VECTOR_SIGMA_UNIT) * self.spread
        noisy = obs + scale * jax.random.normal(key, obs.shape, jnp.float32)
        return jnp.where(self.sigma > 0, noisy, obs)


def noise_returns(
    run: LoadedRun, sigmas: Sequence[float], episodes: int, observations: np.ndarray
) -> list[dict[str, float | int]]:
    """One row per σ of `sigmas` (checked): the run's evaluation return over `episodes`
    episodes with observation noise σ; `observations`: noise-free evaluation observations,
    the vector rule's spread."""
    sigmas = check_sigmas(sigmas)
    pixels = noise_rule(run.env) == PIXELS
    spread = None if pixels else jnp.asarray(observation_spread(observations))
    rows = []
    for sigma in sigmas:
        if pixels:
            value = evaluate_run(run, episodes, frame_noise=sigma)
        else:
            noise = VectorNoise(jnp.asarray(sigma, jnp.float32), spread)
            value = evaluate_run(run, episodes, perturb=noise)
        rows.append({NOISE_SIGMA: sigma, EVAL_RETURN: value, NOISE_EPISODES: episodes})
    return rows
