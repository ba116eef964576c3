"""The per-run values of a vmapped grid of runs."""

from __future__ import annotations

import jax
from flax import struct

from sparserl.types import PyTree


@struct.dataclass
class RunPoint:
    """The per-run values of a vmapped grid: seed, kept-weight counts of the sparsity level,
    swept hyper-parameters (`train.runner.run_points` stacks them from a plan)."""

    key: jax.Array
    counts: PyTree  # {network: int32 kept-weight count per sparse kernel}
    learning_rate: jax.Array
    weight_decay: jax.Array
    gamma: jax.Array
    masks: PyTree = None  # {network: given masks} (lottery-ticket rewind), else None
