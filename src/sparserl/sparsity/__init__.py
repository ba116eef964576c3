"""sparserl.sparsity: the sparsity engine, usable with any Flax/optax model.

It imports nothing from agents, envs or training code. See the README's library section.
"""

from sparserl.sparsity.distributions import DISTRIBUTIONS, layer_densities, layer_nonzeros
from sparserl.sparsity.errors import SparsityConfigError
from sparserl.sparsity.flops import inference_flops, layer_flops, rigl_training_flops
from sparserl.sparsity.initialization import sparsity_aware_scale
from sparserl.sparsity.masks import (
    apply_masks,
    kernel_shapes,
    mask_counts,
    mask_violations,
    nonzero_counts,
    parameter_count,
    random_mask,
    top_k_mask,
)
from sparserl.sparsity.methods import (
    METHODS,
    SET,
    Dense,
    DynamicSparse,
    LotteryTicket,
    Prune,
    RigL,
    SparseMethod,
    SparseState,
    Static,
    make_method,
)
from sparserl.sparsity.optimizer import masked, moment_trees, reset_moments
from sparserl.sparsity.schedules import cosine_drop_fraction, cubic_sparsity, pruning_progress
from sparserl.sparsity.summary import budget_table
from sparserl.sparsity.targets import TARGET_POLICIES, polyak, sync_target

__all__ = [
    "DISTRIBUTIONS",
    "METHODS",
    "SET",
    "TARGET_POLICIES",
    "Dense",
    "DynamicSparse",
    "LotteryTicket",
    "Prune",
    "RigL",
    "SparseMethod",
    "SparseState",
    "SparsityConfigError",
    "Static",
    "apply_masks",
    "budget_table",
    "cosine_drop_fraction",
    "cubic_sparsity",
    "inference_flops",
    "kernel_shapes",
    "layer_densities",
    "layer_flops",
    "layer_nonzeros",
    "make_method",
    "mask_counts",
    "mask_violations",
    "masked",
    "moment_trees",
    "nonzero_counts",
    "parameter_count",
    "polyak",
    "pruning_progress",
    "random_mask",
    "reset_moments",
    "rigl_training_flops",
    "sparsity_aware_scale",
    "sync_target",
    "top_k_mask",
]
