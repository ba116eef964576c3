"""Masked optax optimizers and optimizer-moment resets for connections a method changed."""

from __future__ import annotations

from typing import Any

import jax
import optax

from sparserl.sparsity.errors import SparsityConfigError
from sparserl.sparsity.masks import apply_masks
from sparserl.types import Mask, PyTree

# optax states that hold per-parameter moments, and the fields holding them.
MOMENT_FIELDS: dict[type, tuple[str, ...]] = {
    optax.ScaleByAdamState: ("mu", "nu"),  # adam, adamw, nadam
    optax.TraceState: ("trace",),  # sgd with momentum
    optax.ScaleByRmsState: ("nu",),  # rmsprop
    optax.ScaleByRStdDevState: ("mu", "nu"),  # centered rmsprop
}


def masked(optimizer: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """Wrap an optax optimizer so that inactive weights get zero gradient and zero update.

    Call `update(grads, opt_state, params, masks=state.masks)`: with params that satisfy the
    mask, `optax.apply_updates` then keeps them satisfying it exactly (weight decay included).
    """
    inner = optax.with_extra_args_support(optimizer)

    def update(updates, state, params=None, *, masks: Mask = None, **extra):
        if masks is not None:
            updates = apply_masks(updates, masks)
        updates, state = inner.update(updates, state, params, **extra)
        if masks is not None:
            updates = apply_masks(updates, masks)
        return updates, state

    return optax.GradientTransformationExtraArgs(inner.init, update)


def _is_namedtuple(node: Any) -> bool:
    return isinstance(node, tuple) and hasattr(node, "_fields")


def reset_moments(opt_state: PyTree, keep: Mask) -> PyTree:
    """Zero the optimizer moments of every weight outside `keep` (dropped or newly grown).

    Supports the moment states of Adam/AdamW, SGD with momentum and RMSProp (plain and
    centered), through chains, `inject_hyperparams` and other wrappers. A state of another
    kind that holds per-parameter buffers raises instead of being left silently stale.
    """
    param_structure = jax.tree.structure(keep, is_leaf=lambda x: x is None)

    def zero_outside(tree):
        return apply_masks(tree, keep)

    def visit(node):
        fields = MOMENT_FIELDS.get(type(node))
        if fields is not None:
            return node._replace(**{f: zero_outside(getattr(node, f)) for f in fields})
        if _is_namedtuple(node):
            for name in node._fields:
                value = getattr(node, name)
                if jax.tree.structure(value) == param_structure and jax.tree.leaves(value):
                    raise SparsityConfigError(
                        f"cannot reset the moments of optimizer state {type(node).__name__}"
                        f" (field {name!r}); supported states: "
                        f"{[t.__name__ for t in MOMENT_FIELDS]} (adam, adamw, sgd, rmsprop)"
                    )
            return type(node)(*(visit(getattr(node, n)) for n in node._fields))
        if isinstance(node, (tuple, list)):
            return type(node)(visit(child) for child in node)
        if isinstance(node, dict):
            return {k: visit(v) for k, v in node.items()}
        return node

    return visit(opt_state)


def moment_trees(opt_state: PyTree) -> list[PyTree]:
    """The per-parameter moment trees found in `opt_state`, in order (for checks and reports)."""
    found: list[PyTree] = []

    def visit(node):
        fields = MOMENT_FIELDS.get(type(node))
        if fields is not None:
            found.extend(getattr(node, f) for f in fields)
        elif isinstance(node, (tuple, list)):
            for child in node:
                visit(child)
        elif isinstance(node, dict):
            for child in node.values():
                visit(child)

    visit(opt_state)
    return found
