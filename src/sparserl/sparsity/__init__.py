"""sparserl.sparsity: the sparsity engine, usable with any Flax/optax model.

Distributions of a budget over layers, masks, schedules, the sparse methods and their
registry (`register_method`), the masked optimizer, target policies, init and FLOP counts.
It imports nothing from agents, envs or training code and loads no simulator. See the
README's library section.
"""

from sparserl.sparsity.distributions import (
    DISTRIBUTIONS,
    SPARSITY_RANGE,
    layer_densities,
    layer_nonzeros,
)
from sparserl.sparsity.errors import SparsityConfigError
from sparserl.sparsity.flops import inference_flops, layer_flops, rigl_training_flops
from sparserl.sparsity.initialization import sparsity_aware_scale
from sparserl.sparsity.masks import (
    apply_masks,
    kernel_shapes,
    mask_counts,
    mask_violations,
    nonzero_counts,
    random_mask,
    stored_parameter_count,
    top_k_mask,
)
from sparserl.sparsity.methods import (
    METHODS,
    SET,
    Dense,
    DynamicSparse,
    LotteryTicket,
    MaskedMethod,
    Prune,
    RigL,
    SparseMethod,
    SparseState,
    Static,
    all_option_names,
    check_option,
    make_method,
    map_sparse_layers,
    method_class,
    option_from_text,
    option_names,
    register_method,
    unregister_method,
)
from sparserl.sparsity.optimizer import masked, moment_trees, reset_moments
from sparserl.sparsity.schedules import cosine_drop_fraction, cubic_sparsity, pruning_progress
from sparserl.sparsity.summary import budget_table
from sparserl.sparsity.targets import TARGET_POLICIES, polyak, sync_target

__all__ = [
    "DISTRIBUTIONS",
    "METHODS",
    "SET",
    "SPARSITY_RANGE",
    "TARGET_POLICIES",
    "Dense",
    "DynamicSparse",
    "LotteryTicket",
    "MaskedMethod",
    "Prune",
    "RigL",
    "SparseMethod",
    "SparseState",
    "SparsityConfigError",
    "Static",
    "all_option_names",
    "apply_masks",
    "budget_table",
    "check_option",
    "cosine_drop_fraction",
    "cubic_sparsity",
    "inference_flops",
    "kernel_shapes",
    "layer_densities",
    "layer_flops",
    "layer_nonzeros",
    "make_method",
    "map_sparse_layers",
    "mask_counts",
    "mask_violations",
    "masked",
    "method_class",
    "moment_trees",
    "nonzero_counts",
    "option_from_text",
    "option_names",
    "stored_parameter_count",
    "polyak",
    "pruning_progress",
    "random_mask",
    "register_method",
    "reset_moments",
    "rigl_training_flops",
    "sparsity_aware_scale",
    "sync_target",
    "top_k_mask",
    "unregister_method",
]
